#include "common/aws_client.h"

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <future>
#include <pugixml.hpp>

#include "common/batch.h"
#include "common/settings.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace common {

namespace {

constexpr const char* kUnsignedPayload = "UNSIGNED-PAYLOAD";

std::string find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::string default_code_for_status(long status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 403:
      return "AccessDenied";
    case 404:
      return "NotFound";
    case 412:
      return "PreconditionFailed";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    default:
      return "HttpError" + std::to_string(status);
  }
}

}  // namespace

RetryPolicy RetryPolicy::from_environment() {
  RetryPolicy policy;
  if (const auto attempts = lenient_number("AWS_MAX_ATTEMPTS", 1))
    policy.max_attempts = static_cast<int>(std::min<std::uint64_t>(*attempts, 100));
  return policy;
}

std::chrono::milliseconds RetryPolicy::backoff(int retry, bool throttling) const {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  const auto base = throttling ? throttling_base_delay : base_delay;
  const double ceiling = std::min<double>(
      static_cast<double>(max_backoff.count()),
      static_cast<double>(base.count()) * static_cast<double>(1ull << std::min(retry - 1, 30)));
  std::uniform_real_distribution<double> jitter(0.0, ceiling);
  return std::chrono::milliseconds(static_cast<long long>(jitter(generator)));
}

ClientOptions ClientOptions::from_environment(const ServiceInfo& service) {
  ClientOptions options;
  options.region = load_region();
  options.credentials = load_credentials();
  options.endpoint = resolve_endpoint(service.env_name, service.host_prefix, options.region);
  options.retry = RetryPolicy::from_environment();
  return options;
}

std::string AwsResponse::header(std::string_view lowercase_name) const {
  return find_header(headers, lowercase_name);
}

ErrorDetails parse_error(Protocol protocol, long status, const HeaderList& headers,
                         const std::string& body) {
  ErrorDetails details;
  details.http_status = static_cast<int>(status);
  if (protocol == Protocol::RestXml) {
    details.request_id = find_header(headers, "x-amz-request-id");
    pugi::xml_document document;
    if (!body.empty() && document.load_buffer(body.data(), body.size())) {
      // S3 answers <Error>; the Query protocol (STS) wraps it in <ErrorResponse>.
      pugi::xml_node error = document.child("Error");
      if (!error) error = document.child("ErrorResponse").child("Error");
      details.code = error.child_value("Code");
      details.message = error.child_value("Message");
      // NoSuchBucket names the bucket only here: without it "does not exist" says not which.
      if (const char* bucket = error.child_value("BucketName"); *bucket != '\0')
        details.message += std::string(": ") + bucket;
      if (const char* id = error.child_value("RequestId"); *id != '\0') details.request_id = id;
    }
  } else {
    details.request_id = find_header(headers, "x-amzn-requestid");
    boost::system::error_code parse_failure;
    const auto document = boost::json::parse(body, parse_failure);
    if (!parse_failure && document.is_object()) {
      const auto& object = document.get_object();
      if (const auto* type = object.if_contains("__type"); type && type->is_string()) {
        details.code = std::string(type->get_string());
      }
      for (const char* key : {"message", "Message"}) {
        if (const auto* text = object.if_contains(key); text && text->is_string()) {
          details.message = std::string(text->get_string());
        }
      }
      if (const auto* item = object.if_contains("Item"); item && item->is_object()) {
        details.item = item->get_object();
      }
      if (const auto* reasons = object.if_contains("CancellationReasons");
          reasons && reasons->is_array()) {
        for (const auto& reason : reasons->get_array()) {
          const auto* code = reason.is_object() ? reason.get_object().if_contains("Code") : nullptr;
          details.cancellation_reasons.push_back(
              code && code->is_string() ? std::string(code->get_string()) : "None");
        }
      }
    }
    if (details.code.empty()) details.code = find_header(headers, "x-amzn-errortype");
    // "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" and "Code:http://..."
    if (const auto hash = details.code.rfind('#'); hash != std::string::npos) {
      details.code.erase(0, hash + 1);
    }
    if (const auto colon = details.code.find(':'); colon != std::string::npos) {
      details.code.resize(colon);
    }
  }
  if (details.code.empty()) details.code = default_code_for_status(status);
  return details;
}

struct AwsClient::Call {
  AwsRequest request;
  std::function<void(AwsOutcome&&)> done;
  int attempts = 0;
};

AwsClient::AwsClient(ServiceInfo service, ClientOptions options)
    : service_(std::move(service)),
      options_(std::move(options)),
      engine_(options_.engine != nullptr ? options_.engine : &HttpEngine::shared()),
      signer_(options_.region, service_.signing_name) {}

void AwsClient::send_async(AwsRequest request, std::function<void(AwsOutcome&&)> done) {
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->done = std::move(done);
  attempt(std::move(call));
}

void AwsClient::attempt(std::shared_ptr<Call> call) {
  ++call->attempts;
  const AwsRequest& request = call->request;
  const Endpoint& endpoint = options_.endpoint;
  HttpRequest http;
  http.method = request.method;
  http.body = request.body;
  http.body_source = request.body_source;
  http.on_body = request.on_body;
  runtime::metrics::add("AwsRequests", runtime::metrics::Unit::Count, 1);
  const auto submit = [this, &call, &http] {
    engine_->submit(std::move(http), [this, call](HttpResponse&& response) {
      on_response(call, std::move(response));
    });
  };
  if (!request.presigned_url.empty()) {
    http.url = request.presigned_url;
    http.headers = request.headers;
    submit();
    return;
  }

  SignableRequest signable;
  signable.method = request.method;
  signable.host = request.host_prefix + endpoint.host;
  signable.path = endpoint.base_path + request.path;
  signable.query = request.query;
  signable.headers = request.headers;
  if (request.s3_payload_header) {
    signable.payload_hash = request.body_source ? kUnsignedPayload : sha256_hex(request.body);
    signable.headers.emplace_back("x-amz-content-sha256", signable.payload_hash);
  } else {
    signable.payload_hash = sha256_hex(request.body);
  }

  http.url = endpoint.scheme + "://" + signable.host + uri_encode(signable.path, true);
  for (std::size_t i = 0; i < request.query.size(); ++i) {
    http.url += (i == 0 ? "?" : "&");
    http.url += uri_encode(request.query[i].first, false);
    http.url += "=";
    http.url += uri_encode(request.query[i].second, false);
  }
  http.headers = signable.headers;
  for (auto& header :
       signer_.sign(signable, options_.credentials, std::chrono::system_clock::now())) {
    http.headers.push_back(std::move(header));
  }
  submit();
}

std::optional<ErrorDetails> AwsClient::error_in(const Call& call,
                                                const HttpResponse& response) const {
  if (response.transport_failed()) {
    ErrorDetails details;
    details.code = response.untrusted_peer ? "UntrustedEndpoint" : "ConnectionError";
    details.message = response.transport_error;
    return details;
  }
  if (response.status >= 300) {
    return parse_error(service_.protocol, response.status, response.headers, response.body);
  }
  if (call.request.error_in_success_body && response.body.find("<Error") != std::string::npos) {
    pugi::xml_document document;
    if (document.load_buffer(response.body.data(), response.body.size()) &&
        document.child("Error")) {
      ErrorDetails details =
          parse_error(Protocol::RestXml, response.status, response.headers, response.body);
      // AWS documents these as retryable: the operation did not complete.
      if (details.code.empty() || details.code == "HttpError200") details.code = "InternalError";
      return details;
    }
  }
  return std::nullopt;
}

void AwsClient::on_response(std::shared_ptr<Call> call, HttpResponse&& response) {
  const auto error = error_in(*call, response);
  if (!error) {
    call->done(AwsOutcome{
        AwsResponse{response.status, std::move(response.headers), std::move(response.body)},
        nullptr});
    return;
  }
  const bool transient = is_transient(*error) || response.status == 200;
  const bool rewindable = !call->request.body_source || call->request.body_source->rewind();
  if (transient && call->attempts < options_.retry.max_attempts && rewindable) {
    const auto delay = options_.retry.backoff(call->attempts, is_throttling_code(error->code));
    runtime::metrics::add("AwsRetries", runtime::metrics::Unit::Count, 1);
    runtime::log::debug("retrying AWS request", "operation", call->request.operation, "attempt",
                        call->attempts, "code", error->code, "status", error->http_status,
                        "delay_ms", delay.count());
    engine_->run_after(delay, [this, call] { attempt(call); });
    return;
  }
  AwsOutcome outcome;
  try {
    if (response.untrusted_peer) {
      throw runtime::ConfigurationError(
          "cannot trust https://" + call->request.host_prefix + options_.endpoint.host + ": " +
          error->message +
          " (CA bundle: AWS_CA_BUNDLE, else /etc/pki/tls/certs/ca-bundle.crt or the system's)");
    }
    if (response.transport_failed()) throw TransportError(error->message);
    ErrorDetails final_error = *error;
    if (transient && !rewindable) {
      final_error.message += " (not retried: the request body cannot be sent again)";
    }
    throw_aws_error(final_error);
  } catch (...) {
    outcome.error = std::current_exception();
  }
  call->done(std::move(outcome));
}

AwsResponse AwsClient::send(AwsRequest request) {
  std::promise<AwsOutcome> promise;
  auto future = promise.get_future();
  send_async(std::move(request),
             [&promise](AwsOutcome&& outcome) { promise.set_value(std::move(outcome)); });
  AwsOutcome outcome = future.get();
  return std::move(outcome.value());
}

std::vector<AwsOutcome> AwsClient::send_all(std::vector<AwsRequest> requests,
                                            std::size_t concurrency) {
  return run_bounded_ordered<AwsOutcome>(
      requests.size(), concurrency,
      [&](std::size_t index, std::function<void(AwsOutcome &&)> done) {
        send_async(std::move(requests[index]), std::move(done));
      });
}

void AwsClient::send_each(std::vector<AwsRequest> requests, std::size_t concurrency,
                          const std::function<void(std::size_t, AwsOutcome&&)>& on_outcome,
                          const Pacing& pacing) {
  run_bounded<AwsOutcome>(
      requests.size(), concurrency,
      [&](std::size_t index, std::function<void(AwsOutcome &&)> done) {
        send_async(std::move(requests[index]), std::move(done));
      },
      on_outcome, pacing);
}

}  // namespace common
