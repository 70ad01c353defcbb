#pragma once
// CrawlerTrigger: keeps Glue/Athena current after a run.
//
// Mode "crawler" (CRAWLER_MODE, default): starts every crawler in CRAWLER_NAMES (comma-separated);
// one already running is success, reported as such. Result: {"started": [...],
// "already_running": [...]}.
// Mode "projection": nothing to do; the template's tables project their partitions (Athena
// partition projection over the layout), so a new day needs no registration. Result:
// {"mode": "projection", "registered": 0}.
// Mode "partitions": registers the run's new partitions directly, which is faster and cheaper than
// a crawl. It reads the run's pipeline::Receipts (WORK_BUCKET), takes each output's Hive folder
// (pipeline::hive_partition_of: <DESTINATION_PREFIX>/<table folder>/<k>=<v>/.../), and adds the
// partition to table GLUE_TABLE_PREFIX + <table folder> (lower case, non-alphanumerics as _) in
// GLUE_DATABASE with BatchCreatePartition, 100 at a time, copying the table's storage descriptor
// with the new location; a partition that already exists is fine. Result: {"created", "existing",
// "tables", "missing_tables": [...]}. Event: {"run_id", ...}; anything else in it is ignored.
//
// In any mode, {"action": "clear_parquet_day", "date": "YYYY-MM-DD"} readies a day's conversion
// to Parquet (aggregate_daily, ParquetConversion): it deletes whatever the day's Parquet folder
// holds (pipeline::parquet_day_folder under DESTINATION_BUCKET: an earlier run's files, or a
// failed one's orphans, since Athena's UNLOAD writes only into an empty folder and removes
// nothing it wrote when it fails) and answers {"date", "cleared", "query"}: the UNLOAD of the
// day's CloudTrail events into that folder, which the state machine runs in Athena. A day
// converted again therefore holds one copy. {"action": "clear_parquet_batch", "bucket", "date",
// "manifest_id"} does the same for one event-driven batch (process_manifest): it empties
// pipeline::parquet_batch_folder and answers {"manifest_id", "cleared", "query"}, the UNLOAD of
// the batch's own outputs' lines (their "$path") from the other_logs table.
#include <string>
#include <vector>

#include "common/json_services.h"
#include "common/s3.h"
#include "runtime/runtime.h"

namespace functions::crawler_trigger {

struct Config {
  std::string mode = "crawler";
  std::vector<std::string> crawlers;
  std::string work_bucket;
  std::string destination_prefix = "aggregated";
  std::string database;
  std::string table_prefix;
  // The outputs' bucket: where a day converted to Parquet goes, and the only one whose folders
  // are registered as partitions.
  std::string destination_bucket;

  static Config from_environment();
};

boost::json::value handle(const Config& config, common::GlueClient& glue, common::S3Client& s3,
                          const boost::json::value& event);

runtime::Handler make_handler();

}  // namespace functions::crawler_trigger
