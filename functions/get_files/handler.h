#pragma once
// GetFiles: finds what to combine for one day and writes it down for the Map that follows.
//
// Event: {"date": "YYYY-MM-DD"} or {"time": "<RFC 3339>"} (a schedule: the day before that time),
// optional "run_id" (names the work folder: the execution name), optional "buckets" (only these
// of the configured buckets), and "continuation" when resuming.
// Result: {"run_id", "date", "groups": FileRef to a JSON array of pipeline::Group (each naming its
// file list of pipeline::FileEntry lines), "short_groups" and "long_groups" (the same groups
// parted by size: a short group's chain runs in an Express child execution, which is about a
// hundredth of a Standard one's seven state transitions but ends after five minutes),
// "group_count", "file_count", "bytes", "skipped_recent"}, or near the deadline the event with a
// pipeline::ListingContinuation.
//
// For a backfill (aggregate_history), {"start_date", "end_date", "buckets"?} instead: no listing,
// {"days": ["YYYY-MM-DD", ...], "day_count", "buckets"} (the given buckets, else every configured
// one), at most kMaxHistoryDays.
//
// Environment: WORK_BUCKET (required); CONTROL_TOWER_BUCKET and/or OTHER_BUCKETS (comma-separated;
// s3:// is stripped with a warning); ORGANIZATION_ID (else every o-* folder); AGGREGATION_REGIONS
// (comma-separated; empty: all); DELAY_WINDOW_S (60); LIST_CONCURRENCY (32);
// DESTINATION_BUCKET + DESTINATION_PREFIX (default "aggregated": outputs there are never listed
// as inputs); SHORT_GROUP_MAX_FILES (5000; 0: every group is long) and SHORT_GROUP_MAX_BYTES
// (2 GiB): the largest short group.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/deadline.h"
#include "common/s3.h"
#include "runtime/runtime.h"

namespace functions::get_files {

inline constexpr std::size_t kMaxHistoryDays = 3660;  // ten years; keeps the Map input < 256 KB

struct Config {
  std::string work_bucket;
  std::string control_tower_bucket;
  std::string organization_id;
  std::vector<std::string> other_buckets;
  std::vector<std::string> regions;
  std::chrono::seconds delay_window{60};
  std::size_t list_concurrency = 32;
  std::string destination_bucket;
  std::string destination_prefix = "aggregated";  // as the functions that write outputs
  // CloudTrail-Digest files stay where CloudTrail wrote them unless this is set: combining them
  // loses the signatures `aws cloudtrail validate-logs` checks.
  bool combine_digests = false;
  // A group this small is planned, combined, verified and deleted in well under a minute at
  // CombineLogFiles' memory; the rest of the five minutes is room for Lambda's retries.
  std::uint64_t short_group_max_files = 5000;
  std::uint64_t short_group_max_bytes = std::uint64_t{2} << 30;

  static Config from_environment();  // ConfigurationError on a missing or bad setting
};

boost::json::value handle(const Config& config, common::S3Client& s3,
                          const boost::json::value& event, const common::Deadline& deadline);

runtime::Handler make_handler();

}  // namespace functions::get_files
