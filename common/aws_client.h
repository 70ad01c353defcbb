#pragma once
// A signed, retried AWS call: the one place requests are signed, errors parsed and retries
// decided. Service clients (s3.h, json_services.h) build AwsRequests and parse AwsResponses.
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/http.h"
#include "common/sigv4.h"

namespace common {

// The AWS SDKs' standard retry mode: up to max_attempts tries in all; before retry n, a delay
// drawn uniformly from [0, min(max_backoff, base * 2^(n-1))] ("full jitter"), with a longer base
// for throttling.
struct RetryPolicy {
  int max_attempts = 10;
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds throttling_base_delay{500};
  std::chrono::milliseconds max_backoff{20000};

  // AWS_MAX_ATTEMPTS overrides max_attempts.
  static RetryPolicy from_environment();
  std::chrono::milliseconds backoff(int retry, bool throttling) const;
};

enum class Protocol { RestXml, Json };

struct ServiceInfo {
  std::string signing_name;  // s3, dynamodb, states, glue, sqs
  std::string env_name;      // the SERVICE in AWS_ENDPOINT_URL_<SERVICE>
  std::string host_prefix;   // first label of the AWS host
  Protocol protocol;
};

struct ClientOptions {
  std::string region;
  Credentials credentials;
  Endpoint endpoint;
  RetryPolicy retry;
  HttpEngine* engine = nullptr;  // nullptr: the process-wide engine

  // Region, credentials, endpoint and retry policy from the environment.
  static ClientOptions from_environment(const ServiceInfo& service);
};

struct AwsRequest {
  std::string operation;  // for logs and metrics: "GetObject"
  std::string method = "GET";
  std::string host_prefix;  // "bucket." for S3 virtual-hosted addressing
  std::string path = "/";   // not yet encoded
  std::vector<std::pair<std::string, std::string>> query;
  HeaderList headers;
  std::string body;
  std::shared_ptr<BodySource> body_source;
  std::function<bool(std::string_view)> on_body;
  // CompleteMultipartUpload, UploadPartCopy and CopyObject can answer 200 with an <Error> body.
  bool error_in_success_body = false;
  // S3 signs x-amz-content-sha256; a streamed body is sent as UNSIGNED-PAYLOAD.
  bool s3_payload_header = false;
  // A URL that carries its own signature (S3's presigned): sent to as it is, unsigned, in place
  // of the endpoint, host_prefix, path and query. Retried and its errors read as any call's.
  std::string presigned_url;
};

struct AwsResponse {
  long status = 0;
  HeaderList headers;
  std::string body;
  std::string header(std::string_view lowercase_name) const;
};

// A response or the error that ended the call.
struct AwsOutcome {
  AwsResponse response;
  std::exception_ptr error;
  bool ok() const { return !error; }
  AwsResponse& value() {
    if (error) std::rethrow_exception(error);
    return response;
  }
};

class AwsClient {
 public:
  AwsClient(ServiceInfo service, ClientOptions options);

  // `done` runs on the HTTP engine's thread: it must be quick and must not block.
  void send_async(AwsRequest request, std::function<void(AwsOutcome&&)> done);
  // Blocking: the response, or the AwsError after retries.
  AwsResponse send(AwsRequest request);
  // Many calls with at most `concurrency` in flight; outcomes in input order.
  std::vector<AwsOutcome> send_all(std::vector<AwsRequest> requests, std::size_t concurrency);
  // Many calls; on_outcome(index, outcome) runs on the calling thread as each finishes. With
  // `pacing`, each starts no sooner than its pacer allows.
  void send_each(std::vector<AwsRequest> requests, std::size_t concurrency,
                 const std::function<void(std::size_t, AwsOutcome&&)>& on_outcome,
                 const Pacing& pacing = {});

  const ServiceInfo& service() const { return service_; }
  const ClientOptions& options() const { return options_; }

 private:
  struct Call;
  void attempt(std::shared_ptr<Call> call);
  void on_response(std::shared_ptr<Call> call, HttpResponse&& response);
  std::optional<ErrorDetails> error_in(const Call& call, const HttpResponse& response) const;

  ServiceInfo service_;
  ClientOptions options_;
  HttpEngine* engine_;
  Signer signer_;
};

// Parses an error document of either protocol into code, message and request id.
ErrorDetails parse_error(Protocol protocol, long status, const HeaderList& headers,
                         const std::string& body);

}  // namespace common
