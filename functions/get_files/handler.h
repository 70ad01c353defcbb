#pragma once
// GetFiles: finds what to combine for one day and writes it down for the Map that follows.
//
// Event: {"date": "YYYY-MM-DD"} or {"time": "<RFC 3339>"} (a schedule: the day before that time),
// optional "run_id" (names the work folder: the execution name), optional "buckets" (only these
// of the configured buckets), and "continuation" when resuming.
// Result: {"run_id", "date", "groups": FileRef to a JSON array of pipeline::Group (each naming its
// file list of pipeline::FileEntry lines), "group_count", "file_count", "bytes",
// "skipped_recent"}, or near the deadline the event with a pipeline::ListingContinuation.
//
// For a backfill (aggregate_history), {"start_date", "end_date", "buckets"?} instead: no listing,
// {"days": ["YYYY-MM-DD", ...], "day_count", "buckets"} (the given buckets, else every configured
// one), at most kMaxHistoryDays.
//
// Environment: WORK_BUCKET (required); CONTROL_TOWER_BUCKET and/or OTHER_BUCKETS (comma-separated;
// s3:// is stripped with a warning); ORGANIZATION_ID (else every o-* folder); AGGREGATION_REGIONS
// (comma-separated; empty: all); DELAY_WINDOW_S (60); LIST_CONCURRENCY (32);
// DESTINATION_BUCKET + DESTINATION_PREFIX (default "aggregated": outputs there are never listed
// as inputs).
#include <chrono>
#include <cstddef>
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

  static Config from_environment();  // ConfigurationError on a missing or bad setting
};

boost::json::value handle(const Config& config, common::S3Client& s3,
                          const boost::json::value& event, const common::Deadline& deadline);

runtime::Handler make_handler();

}  // namespace functions::get_files
