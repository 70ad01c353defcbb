#pragma once
// Where everything is kept: the one place that builds or reads a key.
//
// Work bucket (expired by its lifecycle):
//   work/<run>/units.json, groups.json          GetFiles' listing units and its groups
//   work/<run>/files/<group>.jsonl              a group's file list (FileEntry lines)
//   work/<run>/plans/<group>.json               DetermineOperationType's Plan
//   work/<run>/plans/<group>-NNNN.jsonl         its output NNNN's sources (Source lines)
//   work/<run>/receipts/<group>.json            CombineLogFiles' Receipt
//   work/<run>/<kind>/<id>-<point>.<ext>        a continuation's checkpoint (continuation.h)
//   work/<manifest id>/manifest.json, plan.json process_manifest's manifest and its plan
//   (plan-NNNN.jsonl: its outputs' sources)
//   ledger/<date>/<group>/<run>/<output>.json   the ledger of combined versions (ledger.h)
// where <group> and <output> are work_file_name()s: readable, key-safe and collision-free.
//
// Destination bucket, under DESTINATION_PREFIX, Hive-style so Athena partitions on the folders:
//   <prefix>/<log type>/account=<id>/region=<region>/date=<day>/<type>_<id>_<region>_<day>-NNNN
//   <prefix>/<source bucket>/date=<day>/<folder slug>-<hash of the folder>-NNNN
//   <prefix>/<source bucket>/date=<day>/batch-<manifest id>-NNNN
//   <prefix>-parquet/<table>/date=<day>/...  a day converted to Parquet by Athena (UNLOAD)
//   <prefix>-parquet/<table>/bucket=<bucket>/date=<day>/batch=<manifest id>/...  a batch's
//   <prefix>/<amplify folder>/app=<app>/date_export=<day>/log_<YYYYMMDD_HHMMSS>  an Amplify
//                                               app's access logs (CSV) from a chunk's start
// each .gz (gzip members) or .log (plain text), or for a file copied as it is, the group's name
// and the file's.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/records.h"

namespace pipeline {

// Folders of work/ that other writers use (Athena's results, the backfills' listings): never a
// run's.
bool reserved_run_id(const std::string& run_id);

// work/<run>/<name>: a file of the run as a whole.
std::string run_file_key(const std::string& run_id, const std::string& name);
// <plan key less ".json">-NNNN.jsonl: the sources of the plan's output NNNN (from 1).
std::string planned_sources_key(const std::string& plan_key, std::size_t output);
// work/<run>/<kind>/: where the run's files of one kind are.
std::string run_folder(const std::string& run_id, const std::string& kind);
// work/<run>/<kind>/<name of id>.<extension>: the file of one group (files, plans, receipts).
std::string group_file_key(const std::string& run_id, const std::string& kind,
                           const std::string& id, const std::string& extension);
// work/<run>/<kind>/<name of id>-<point>.<extension>: a checkpoint, unique to the point.
std::string checkpoint_key(const std::string& run_id, const std::string& kind,
                           const std::string& id, std::uint64_t point,
                           const std::string& extension);

// ledger/<date>/<group>/: where a group's outputs of that day are recorded.
std::string ledger_prefix(const std::string& date, const std::string& group_id);
// ledger/<date>/<group>/<run>/: where one run records a group's outputs (each run its own folder:
// two runs of one day at once never replace each other's records).
std::string ledger_run_prefix(const std::string& date, const std::string& group_id,
                              const std::string& run_id);
// ledger/<date>/: every group's of that day; ledger/ for an empty date.
std::string ledger_day_prefix(const std::string& date);
// The record of one output under a prefix.
std::string ledger_key(const std::string& prefix, const std::string& output_key);

// DESTINATION_PREFIX as a key's beginning: "" or "<prefix>/", whatever slashes it was given.
std::string destination_root(const std::string& destination_prefix);
// The folder a group's outputs go to (no trailing slash).
std::string group_directory(const std::string& destination_prefix, const Group& group);
// The name a group's outputs are numbered after, the group's own: another bucket's folder gives
// its slug and the hash of the exact folder, as "a/b/" and "a_b/" share a slug.
std::string group_output_name(const Group& group);
// The key_base of process_manifest's batch outputs (numbered -NNNN by the plan).
std::string manifest_key_base(const std::string& destination_prefix, const std::string& bucket,
                              const std::string& date, const std::string& manifest_id);

// Where a day of a table converted to Parquet goes (CrawlerMode projection, ParquetConversion):
// "<prefix>-parquet/<table>/date=<day>/" ("parquet/..." without a prefix), beside the combined
// objects and never under them, so no text table reads it.
std::string parquet_day_folder(const std::string& destination_prefix, const std::string& table,
                               const std::string& date);
// Where one event-driven batch's lines converted to Parquet go (process_manifest,
// ParquetConversion): "<prefix>-parquet/<table>/bucket=<bucket>/date=<day>/batch=<manifest id>/",
// a folder of its own inside the day's partition, so a batch converted again replaces only itself.
std::string parquet_batch_folder(const std::string& destination_prefix, const std::string& table,
                                 const std::string& bucket, const std::string& date,
                                 const std::string& manifest_id);

// Where an Amplify app's access logs from `chunk_start` go (AmplifyLogExporter):
// "<prefix>/<amplify folder>/app=<app>/date_export=<day>/log_<YYYYMMDD_HHMMSS>", the chunk's
// start naming both, so a chunk exported again replaces its object and never adds a second.
std::string amplify_log_key(const std::string& destination_prefix,
                            const std::string& amplify_folder, const std::string& app_name,
                            std::chrono::sys_seconds chunk_start);

// The Hive partition an output key is in: its table's folder (the first below the prefix), the
// partition's folder and the values of its key=value folders, in order.
struct HivePartition {
  std::string table_folder;
  std::string folder;  // from the table folder, with a trailing '/'
  std::vector<std::string> values;
};
// nullopt for a key outside the prefix or with no key=value folder.
std::optional<HivePartition> hive_partition_of(const std::string& destination_prefix,
                                               const std::string& key);

}  // namespace pipeline
