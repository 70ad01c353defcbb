// What hashing every original costs CombineLogFiles: the check each gzip original gets anyway
// (inflate every member, look for NUL bytes) next to the same check also taking the SHA-256 of the
// compressed bytes and of the inflated content, as the index now records. Best of 5 passes over
// 64 MiB of CloudTrail-like JSON, gzip -9; prints MB/s of compressed input and the ratio.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "common/gzip.h"

namespace {

std::string cloudtrail_like(std::size_t bytes) {
  std::mt19937 random(7);
  std::string text;
  while (text.size() < bytes) {
    text += R"({"eventVersion":"1.08","eventTime":"2026-03-05T01:)" +
            std::to_string(random() % 60) + R"(:00Z","eventSource":"s3.amazonaws.com",)" +
            R"("eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"10.0.)" +
            std::to_string(random() % 256) + "." + std::to_string(random() % 256) +
            R"(","requestID":")" + std::to_string(random()) + std::to_string(random()) + "\"}\n";
  }
  return text;
}

// Inflate and look for NUL bytes only: what the check did before it hashed.
bool inflate_only(const std::string& compressed) {
  z_stream stream{};
  inflateInit2(&stream, 15 + 16);
  static char buffer[64 * 1024];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  bool clean = true;
  int result = Z_OK;
  while (result != Z_STREAM_END && result >= 0) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    result = inflate(&stream, Z_NO_FLUSH);
    const std::size_t produced = sizeof buffer - stream.avail_out;
    clean = clean && std::find(buffer, buffer + produced, '\0') == buffer + produced;
    if (result == Z_BUF_ERROR) break;
  }
  inflateEnd(&stream);
  return clean && result == Z_STREAM_END;
}

template <typename Check>
double best_mb_per_s(const std::string& compressed, Check&& check) {
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    if (!check(compressed)) std::fprintf(stderr, "the check failed\n");
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::max(best, static_cast<double>(compressed.size()) / 1e6 / took.count());
  }
  return best;
}

}  // namespace

int main() {
  const std::string text = cloudtrail_like(64 << 20);
  const std::string compressed = common::gzip(text);
  const double baseline = best_mb_per_s(compressed, inflate_only);
  const double hashed = best_mb_per_s(compressed, [](const std::string& bytes) {
    const auto verdict = common::check_content(bytes);
    return verdict.kind == common::ContentKind::kGzip && verdict.content_sha256.size() == 64;
  });
  std::printf("%zu MB of text, %zu MB gzip\n", text.size() >> 20, compressed.size() >> 20);
  std::printf("%-44s %8.1f MB/s compressed\n", "inflate + NUL check (the baseline)", baseline);
  std::printf("%-44s %8.1f MB/s compressed\n", "check_content: inflate + NUL + both SHA-256s",
              hashed);
  std::printf("ratio %.2f (hashing costs %.0f %% of the check's throughput)\n", hashed / baseline,
              100.0 * (1 - hashed / baseline));
  return 0;
}
