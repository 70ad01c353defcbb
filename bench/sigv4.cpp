// SigV4 signatures per second (Google Benchmark): an S3 GET with a key that needs encoding, and a
// DynamoDB POST whose 1 KB body is hashed.
#include <benchmark/benchmark.h>

#include "common/sigv4.h"

namespace {

const common::Credentials kCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       ""};

void BM_SignS3Get(benchmark::State& state) {
  common::Signer signer("us-east-1", "s3");
  common::SignableRequest request;
  request.method = "GET";
  request.host = "log-archive.s3.us-east-1.amazonaws.com";
  request.path =
      "/o-abc123/AWSLogs/o-abc123/123456789012/CloudTrail/eu-west-1/2026/11/22/file name+1.json.gz";
  request.payload_hash = "UNSIGNED-PAYLOAD";
  request.headers = {{"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(signer.sign(request, kCredentials, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignS3Get);

void BM_SignDynamoDbPostWithBodyHash(benchmark::State& state) {
  common::Signer signer("us-east-1", "dynamodb");
  const std::string body(1024, 'x');
  common::SignableRequest request;
  request.method = "POST";
  request.host = "dynamodb.us-east-1.amazonaws.com";
  request.path = "/";
  request.headers = {{"content-type", "application/x-amz-json-1.0"},
                     {"x-amz-target", "DynamoDB_20120810.PutItem"}};
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    request.payload_hash = common::sha256_hex(body);
    benchmark::DoNotOptimize(signer.sign(request, kCredentials, now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignDynamoDbPostWithBodyHash);

}  // namespace

BENCHMARK_MAIN();
