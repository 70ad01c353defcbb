// What a log call costs when its level is filtered out, next to one that is written (to
// /dev/null) — the claim is that filtered levels cost nothing measurable.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "runtime/logging.h"

namespace {

void configure(const char* level, const char* format) {
  setenv("AWS_LAMBDA_LOG_LEVEL", level, 1);
  setenv("AWS_LAMBDA_LOG_FORMAT", format, 1);
  runtime::log::configure_from_environment();
  static const int null_fd = ::open("/dev/null", O_WRONLY);
  runtime::log::set_output_fd(null_fd);
}

void BM_FilteredDebugWithFields(benchmark::State& state) {
  configure("INFO", "JSON");
  const std::string key = "2026/11/23/o-abc/AWSLogs/123456789012/CloudTrail/file.json.gz";
  std::int64_t bytes = 5242880;
  for (auto _ : state) {
    runtime::log::debug("part uploaded", "key", key, "bytes", bytes, "part", 17);
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_FilteredDebugWithFields);

void BM_BaselineEmptyLoop(benchmark::State& state) {
  std::int64_t bytes = 5242880;
  for (auto _ : state) benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_BaselineEmptyLoop);

void BM_WrittenInfoJson(benchmark::State& state) {
  configure("INFO", "JSON");
  const std::string key = "2026/11/23/o-abc/AWSLogs/123456789012/CloudTrail/file.json.gz";
  for (auto _ : state)
    runtime::log::info("part uploaded", "key", key, "bytes", 5242880, "part", 17);
}
BENCHMARK(BM_WrittenInfoJson);

void BM_WrittenInfoText(benchmark::State& state) {
  configure("INFO", "Text");
  const std::string key = "2026/11/23/o-abc/AWSLogs/123456789012/CloudTrail/file.json.gz";
  for (auto _ : state)
    runtime::log::info("part uploaded", "key", key, "bytes", 5242880, "part", 17);
}
BENCHMARK(BM_WrittenInfoText);

}  // namespace

BENCHMARK_MAIN();
