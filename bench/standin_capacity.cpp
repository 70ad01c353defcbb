// The S3 stand-in's own capacity on this machine: small GETs and PUTs with no latency and no rate
// limits, through our client at 64 connections, so a benchmark's figures can be set against it.
// A benchmark at C connections and L ms per request needs C / L requests per second (64 at 20 ms:
// 3,200/s); while the stand-in serves several times that, it is not what the benchmark measures.
//   build/bin/bench_standin_capacity [--requests 20000] [--connections 64]
// Client and stand-in share this machine's cores: the figure is a lower bound.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/s3.h"
#include "tests/aws_test_support.h"
#include "tests/test_support.h"

namespace {

double run(common::S3Client& s3, std::vector<common::AwsRequest> requests,
           std::size_t connections) {
  const auto started = std::chrono::steady_clock::now();
  const std::size_t count = requests.size();
  for (auto& outcome : s3.client().send_all(std::move(requests), connections)) outcome.value();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return static_cast<double>(count) / wall;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t requests = 20000, connections = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--requests") requests = std::stoul(argv[i + 1]);
    if (std::string(argv[i]) == "--connections") connections = std::stoul(argv[i + 1]);
  }
  tests::BackgroundProcess standin("exec " + tests::bin_path("s3-standin").string() +
                                       " --latency-ms 0 --read-rate 0 --write-rate 0",
                                   "listening");
  tests::MotoFixture target;
  target.endpoint = standin.ready_line().substr(standin.ready_line().find("http://"));
  target.credentials = {"standin", "standin", ""};
  common::HttpOptions http = common::HttpOptions::from_environment();
  http.max_connections_per_host = static_cast<long>(connections);
  common::HttpEngine engine(http);
  common::ClientOptions options = tests::moto_options(target);
  options.engine = &engine;
  common::S3Client s3(options);
  tests::aws_cli(target, "s3api create-bucket --bucket capacity");
  const std::string body(1024, 'x');
  std::vector<common::AwsRequest> puts, gets;
  for (std::size_t i = 0; i < requests; ++i) {
    const std::string key = "p" + std::to_string(i % 100) + "/o-" + std::to_string(i);
    common::AwsRequest put;
    put.operation = "PutObject";
    put.method = "PUT";
    put.path = "/capacity/" + key;
    put.s3_payload_header = true;
    put.body = body;
    puts.push_back(std::move(put));
    gets.push_back(s3.get_object_request("capacity", key, {}));
  }
  const double put_rate = run(s3, std::move(puts), connections);
  const double get_rate = run(s3, std::move(gets), connections);
  std::printf(
      "s3-standin capacity on this machine (%u cores shared with the client), %zu requests "
      "of 1 KiB at %zu connections:\n",
      std::thread::hardware_concurrency(), requests, connections);
  std::printf("  PUT %8.0f requests/s\n  GET %8.0f requests/s\n", put_rate, get_rate);
  std::printf("  a benchmark at 64 connections and 20 ms needs 3,200/s: %.1fx headroom for GETs\n",
              get_rate / 3200);
  return 0;
}
