#pragma once
// CombineLogFiles: executes one plan from DetermineOperationType and writes a receipt.
//
// Event: {"run_id", "group_id", "plan": FileRef to a pipeline::Plan} (DetermineOperationType's
// result), with a pipeline::CombineContinuation as "continuation" when resuming; or, in manifest
// mode (process_manifest), {"manifest_id", "source_bucket", "date", "manifest": FileRef to a JSON
// array of pipeline::Source}: the manifest is planned here (pipeline/plan.h) into
// pipeline::manifest_key_base outputs, and the manifest id is the run and the group.
// Result: {"group_id", "run_id", "receipt": FileRef to a pipeline::Receipt, "already_combined",
// "outputs", "files", "skipped", "bytes_in", "bytes_out"}.
//
// Each planned output becomes one multipart upload per kind of content: gzip members are
// concatenated byte for byte into <key_base>.gz, plain text into <key_base>.log, never mixed.
// Only what can be combined safely is combined (common/gzip.h): gzip whose every member inflates
// to text, and text. A truncated or corrupt member, bzip2, zstd, zip, Parquet, anything with NUL
// bytes stays where it is, reported in "skipped" with its reason, one WARN line per file and the
// SkippedFiles metric; so does an original that vanished or changed since listing (404, 412) or
// that is archived (InvalidObjectState, counted: restore them). A 403 fails the group, naming it.
// Every original starts on a new line of the decompressed output: plain text lacking a final
// newline gets one; gzip content lacking one is followed by a tiny gzip member holding "\n".
// Sources of 10 MiB or more are copied server-side (UploadPartCopy) but for their last 5 MiB,
// which is downloaded so the newline can follow it and every part but the last is >= 5 MiB; a
// large source is read whole, in 8 MiB ranges, and checked (gzip inflated, text searched for
// binary bytes) before any of it is copied. A source rejected half-way rolls the
// output back to the last source boundary: none of its bytes stay. Smaller sources are
// downloaded in parallel (at most DOWNLOAD_CONCURRENCY requests and MEMORY_BUDGET_BYTES in
// flight) and packed into parts of the plan's part size. copy_all outputs are copied by
// UploadPartCopy, in ranges past 5 GiB, after one read of each to hash it. Every output's index
// records each original's offset and the SHA-256 of its bytes and of its decompressed content.
// Before an output completes, its record (key, size, multipart ETag, sources) goes to the ledger
// (pipeline/ledger.h); CompleteMultipartUpload is conditional (If-None-Match: *), so an output key
// is never written twice: a key that exists is adopted only when it is exactly that record (a retry
// after the completion happened), and is someone else's otherwise (VerificationFailed). Each
// output is verified (its size is what was written) before the pipeline::Receipt is written to
// the work bucket. A stale upload for
// an output key (from a crashed attempt) is aborted first.
// Near the deadline (looked at before every long call) it stops at a commit point (a part just
// uploaded at a source boundary), saves its progress to the work bucket and returns the event
// with "continuation": the next call resumes each open upload from its own commits, so a
// repeated or retried call never adds a source twice nor leaves one out.
//
// Ledger records and checkpoints are sealed (pipeline/seal.h: the only function that may), and a
// checkpoint is resumed only from this run's own folder and with its seal.
//
// Environment: WORK_BUCKET, DESTINATION_BUCKET, SEAL_KEY_ID (required), STORAGE_CLASS
// (STANDARD_IA), DOWNLOAD_CONCURRENCY (32), MEMORY_BUDGET_BYTES (67108864), DESTINATION_PREFIX
// ("aggregated") and MAX_OUTPUT_BYTES (5 GiB) for manifests, OUTPUT_RETENTION_DAYS (0: none; else
// each output is under Object Lock governance retention that long, from its upload's start).
#include <cstdint>
#include <string>

#include "common/deadline.h"
#include "common/s3.h"
#include "pipeline/seal.h"
#include "runtime/runtime.h"

namespace functions::combine_log_files {

struct Config {
  std::string work_bucket;
  std::string destination_bucket;
  std::string storage_class = "STANDARD_IA";
  std::size_t download_concurrency = 32;
  std::uint64_t memory_budget = 64ull << 20;
  std::string destination_prefix = "aggregated";
  std::uint64_t max_output_bytes = 5ull << 30;
  // Days each output is kept from deletion by S3 Object Lock (governance mode); 0 for none.
  std::uint64_t output_retention_days = 0;

  static Config from_environment();
};

boost::json::value handle(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                          const boost::json::value& event, const common::Deadline& deadline);

runtime::Handler make_handler();

}  // namespace functions::combine_log_files
