// Our S3 client against moto: 1,000 small GETs at concurrency 1, 16 and 64, next to boto3 with
// 16 threads doing the same GETs in the same run. Prints requests/s, client CPU-seconds per 1,000
// requests and TCP connections opened per 1,000 requests.
//   build/bin/bench_s3_client [--objects 1000] [--size 1024]
// moto (a Python server) bounds throughput for both clients; CPU per request is the client's own.
// moto's server closes every connection after one response, so each run is made twice: directly,
// and through a keep-alive front (fault-proxy at rate 0) that behaves like S3 towards the client.
#include <sys/resource.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/s3.h"
#include "tests/aws_test_support.h"
#include "tests/test_support.h"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Figures {
  double wall_s;
  double cpu_s;
  double connections;
};

Figures run_ours(const tests::MotoFixture& moto, const std::string& bucket,
                 const std::vector<std::string>& keys, std::size_t concurrency) {
  common::HttpOptions http = common::HttpOptions::from_environment();
  http.max_connections_per_host = static_cast<long>(concurrency);
  common::HttpEngine engine(http);  // fresh, so its connection count is this run's alone
  common::ClientOptions options = tests::moto_options(moto);
  options.engine = &engine;
  common::S3Client s3(options);
  std::vector<common::AwsRequest> requests;
  for (const auto& key : keys) requests.push_back(s3.get_object_request(bucket, key, {}));
  const double cpu_before = cpu_seconds();
  const auto started = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  for (auto& outcome : s3.client().send_all(std::move(requests), concurrency)) {
    bytes += outcome.value().body.size();
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (bytes == 0) std::fprintf(stderr, "no bytes read\n");
  return Figures{wall, cpu_seconds() - cpu_before,
                 static_cast<double>(engine.stats().connections_opened)};
}

}  // namespace

int main(int argc, char** argv) {
  int objects = 1000;
  int size = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--objects") objects = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--size") size = std::atoi(argv[i + 1]);
  }
  tests::TempDir dir;
  tests::BackgroundProcess moto_process(
      "exec " + tests::source_path("tools/moto-local").string() + " --endpoint-file " +
          (dir.path() / "endpoint").string(),
      "moto ready");  // its request log goes to stderr: 2>/dev/null to hide it
  tests::MotoFixture moto;
  moto.endpoint = moto_process.ready_line().substr(moto_process.ready_line().find("http://"));
  moto.credentials = {"testing", "testing", ""};

  const std::string bucket = "bench-gets";
  common::S3Client seeder(tests::moto_options(moto));
  tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket);
  std::vector<std::string> keys;
  std::vector<common::AwsRequest> puts;
  const std::string body(static_cast<std::size_t>(size), 'x');
  for (int i = 0; i < objects; ++i) {
    keys.push_back("2026/11/22/small-" + std::to_string(i) + ".json");
    common::AwsRequest put;
    put.operation = "PutObject";
    put.method = "PUT";
    put.path = "/" + bucket + "/" + keys.back();
    put.s3_payload_header = true;
    put.body = body;
    puts.push_back(std::move(put));
  }
  for (auto& outcome : seeder.client().send_all(std::move(puts), 16)) outcome.value();

  tests::BackgroundProcess proxy("exec " + tests::bin_path("fault-proxy").string() +
                                     " --upstream " + moto.endpoint + " --rate 0",
                                 "fault-proxy listening");
  const std::string proxy_url = proxy.ready_line().substr(proxy.ready_line().find("http://"));
  std::ofstream key_file(dir.path() / "keys");
  for (const auto& key : keys) key_file << key << "\n";
  key_file.close();

  const double per = 1000.0 / objects;
  std::printf("%d GETs of %d-byte objects (figures per 1,000 requests)\n", objects, size);
  for (const auto& [label, endpoint] :
       {std::pair<std::string, std::string>{"moto directly", moto.endpoint},
        {"keep-alive front", proxy_url}}) {
    std::printf("%s:\n  %-22s %10s %14s %14s\n", label.c_str(), "client", "req/s", "CPU s/1000",
                "conns/1000");
    tests::MotoFixture target = moto;
    target.endpoint = endpoint;
    Figures ours16{};
    for (std::size_t concurrency : {1, 16, 64}) {
      const Figures f = run_ours(target, bucket, keys, concurrency);
      if (concurrency == 16) ours16 = f;
      std::printf("  ours, concurrency %-4zu %10.0f %14.3f %14.0f\n", concurrency,
                  objects / f.wall_s, f.cpu_s * per, f.connections * per);
    }
    const auto python =
        tests::run_command("python3 " + tests::source_path("bench/s3_gets.py").string() + " " +
                           endpoint + " " + bucket + " 16 < " + (dir.path() / "keys").string());
    if (python.exit_code != 0) {
      std::printf("  boto3 baseline failed: %s\n", python.err.c_str());
      continue;
    }
    const auto baseline = boost::json::parse(python.out).as_object();
    const double boto_wall = baseline.at("wall_s").to_number<double>();
    const double boto_cpu = baseline.at("cpu_s").to_number<double>();
    std::printf("  %-22s %10.0f %14.3f %14s\n", "boto3, 16 threads", objects / boto_wall,
                boto_cpu * per, "-");
    std::printf("  ratio ours/boto3 at 16: %.2fx the requests/s, %.2fx less CPU per request\n",
                boto_wall / ours16.wall_s, boto_cpu / ours16.cpu_s);
  }
  return 0;
}
