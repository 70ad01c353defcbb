#pragma once
// DetermineOperationType: turns one group's file list into a plan for CombineLogFiles.
//
// Event: a group from GetFiles' groups file ({"group_id", "kind", "source_bucket", "date",
// "files": {bucket, key, count, bytes}, ...}) plus "run_id".
// Result: {"group_id", "operation": "none" | "copy_all" | "aggregate", "plan": {bucket, key, count,
// bytes} (absent for none), "outputs", "files", "bytes"}.
//
// The plan file: {"group_id", "operation", "source_bucket", "date", "outputs": [{"key_base",
// "part_size", "bytes", "sources": [{"key", "size", "etag", "version_id"?}]}]}. CombineLogFiles
// adds the extension (.gz for gzip members, .log for plain text) from what it reads. Within an
// output, sources of at least 5 MiB (copied server-side) come first, then the small ones (packed
// into parts), each in key order, so every part but the last is at least 5 MiB.
//
// Outputs are numbered after those a previous run left for the same group and day, so a day run
// again adds outputs and never overwrites one (its originals are gone).
//
// Environment: WORK_BUCKET, DESTINATION_BUCKET, DESTINATION_PREFIX (default "aggregated"),
// GLACIER_MIN_SIZE (204800:
// when every file is at least this big, they are copied as they are), MAX_OUTPUT_BYTES (default
// 5 GiB), HEAD_CONCURRENCY (32).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/s3.h"
#include "runtime/runtime.h"

namespace functions::determine_operation_type {

struct Config {
  std::string work_bucket;
  std::string destination_bucket;
  std::string destination_prefix = "aggregated";
  std::uint64_t glacier_min_size = 204800;
  std::uint64_t max_output_bytes = 5ull << 30;
  std::size_t head_concurrency = 32;

  static Config from_environment();
};

struct Source {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::string version_id;
};

struct Output {
  std::string key_base;  // for a copy (copy_all), the whole destination key
  bool copy = false;
  std::uint64_t part_size = 0;
  std::uint64_t bytes = 0;
  std::vector<Source> sources;
};

inline constexpr std::uint64_t kMinPartSize = 8ull << 20;      // packed parts: 8 MiB at least
inline constexpr std::uint64_t kMaxPartSize = 5ull << 30;      // S3's limit for one part
inline constexpr std::uint64_t kCopyThreshold = 5ull << 20;    // copied server-side from here
inline constexpr std::uint64_t kMaxCopyPartSize = 5ull << 30;  // larger sources copy in ranges
inline constexpr std::uint64_t kMaxParts = 10000;

// Parts an output needs: each large source in ranges of at most 5 GiB, the small bytes packed.
std::uint64_t parts_needed(const std::vector<Source>& sources, std::uint64_t part_size);

// Splits sources (any order) into outputs named key_base-NNNN from first_number on: each at most
// max_output_bytes (a single larger source gets an output of its own) and at most 10,000 parts,
// with the packed part size grown as s3tar does when 10,000 parts of 8 MiB would not hold it.
std::vector<Output> plan_outputs(std::vector<Source> sources, const std::string& key_base,
                                 std::uint64_t max_output_bytes, std::uint64_t first_number = 1);

// The number after the highest key_base-NNNN among `existing` keys, 1 when there is none: a day
// aggregated again (late files, a backfill) gets new outputs beside the earlier ones, never over
// them, whose originals are already gone.
std::uint64_t next_output_number(const std::vector<std::string>& existing,
                                 const std::string& key_base);

// `key`, or when an object of that name exists already, the first free "<stem>-NNNN<extension>"
// (from 0002): a file copied as it is never replaces an earlier copy.
std::string unused_key(const std::set<std::string>& existing, const std::string& key);

boost::json::value handle(const Config& config, common::S3Client& s3,
                          const boost::json::value& event);

runtime::Handler make_handler();

}  // namespace functions::determine_operation_type
