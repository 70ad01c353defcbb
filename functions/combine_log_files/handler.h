#pragma once
// CombineLogFiles: executes one plan from DetermineOperationType and writes a receipt.
//
// Event: {"run_id", "group_id", "plan": {bucket, key, ...}} (DetermineOperationType's result),
// or, in manifest mode (process_manifest), {"manifest_id", "source_bucket", "date", "manifest":
// {bucket, key, ...}} naming a JSON array of {"key", "size", "etag", "version_id"?}: the manifest
// is planned here (common/plan.h) into <DESTINATION_PREFIX>/<bucket>/date=<date>/
// batch-<manifest id>-0001.gz (or .log), and the manifest id is the run and the group.
// Result: {"group_id", "receipt": {bucket, key, count, bytes}, "outputs", "files", "skipped",
// "bytes_in", "bytes_out"}.
//
// Each planned output becomes one multipart upload per kind of content: gzip members are
// concatenated byte for byte into <key_base>.gz, plain text into <key_base>.log, never mixed.
// Every original starts on a new line of the decompressed output: plain text lacking a final
// newline gets one; gzip content lacking one is followed by a tiny gzip member holding "\n".
// Sources of 10 MiB or more are copied server-side (UploadPartCopy) but for their last 5 MiB,
// which is downloaded so the newline can follow it and every part but the last is >= 5 MiB.
// Smaller sources are downloaded in parallel (at most DOWNLOAD_CONCURRENCY requests and
// MEMORY_BUDGET_BYTES in flight) and packed into parts of the plan's part size.
// Every read names the listed version and etag: a source changed or deleted since listing is
// left out of the output and reported as skipped (and so is never deleted). Each output is
// verified (its size is what was written) before the receipt
// {"group_id", "outputs": [{"key", "size", "etag", "sources": [...]}], "empty_sources": [...],
//  "skipped": [...]} is written to the work bucket. A stale upload for an output key (from a
// crashed attempt) is aborted first.
// Near the deadline it stops at a commit point (a part just uploaded at a source boundary), saves
// its progress to the work bucket and returns the event with "continuation": the next call
// resumes the open uploads where they were committed, so a repeated or retried call never adds a
// source twice.
//
// Environment: WORK_BUCKET, DESTINATION_BUCKET (required), STORAGE_CLASS (STANDARD_IA),
// DOWNLOAD_CONCURRENCY (32), MEMORY_BUDGET_BYTES (67108864), DESTINATION_PREFIX ("aggregated")
// and MAX_OUTPUT_BYTES (5 GiB) for manifests.
#include <cstdint>
#include <string>

#include "common/deadline.h"
#include "common/s3.h"
#include "runtime/runtime.h"

namespace functions::combine_log_files {

inline constexpr std::uint64_t kTailBytes = 5ull << 20;
inline constexpr std::uint64_t kServerCopyMin = 2 * kTailBytes;

struct Config {
  std::string work_bucket;
  std::string destination_bucket;
  std::string storage_class = "STANDARD_IA";
  std::size_t download_concurrency = 32;
  std::uint64_t memory_budget = 64ull << 20;
  std::string destination_prefix = "aggregated";
  std::uint64_t max_output_bytes = 5ull << 30;

  static Config from_environment();
};

boost::json::value handle(const Config& config, common::S3Client& s3,
                          const boost::json::value& event);

runtime::Handler make_handler();

}  // namespace functions::combine_log_files
