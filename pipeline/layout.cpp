#include "pipeline/layout.h"

#include <cctype>
#include <cstdio>
#include <set>

#include "common/dates.h"
#include "common/sigv4.h"
#include "pipeline/work_files.h"

namespace pipeline {

namespace {

std::string slug(std::string_view text) {
  std::string result;
  for (char c : text) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '=';
    result.push_back(keep ? c : '_');
  }
  while (!result.empty() && result.back() == '_') result.pop_back();
  while (!result.empty() && result.front() == '_') result.erase(result.begin());
  return result.empty() ? "root" : result;
}

}  // namespace

bool reserved_run_id(const std::string& run_id) {
  static const std::set<std::string> kReserved{"athena-results", "backfills", "forward-backfills",
                                               "ledger",         "receipts",  "work"};
  return kReserved.contains(run_id);
}

std::string run_file_key(const std::string& run_id, const std::string& name) {
  return "work/" + run_id + "/" + name;
}

std::string run_folder(const std::string& run_id, const std::string& kind) {
  return "work/" + run_id + "/" + kind + "/";
}

std::string planned_sources_key(const std::string& plan_key, std::size_t output) {
  const std::string stem =
      plan_key.ends_with(".json") ? plan_key.substr(0, plan_key.size() - 5) : plan_key;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "-%04zu.jsonl", output);
  return stem + suffix;
}

std::string group_file_key(const std::string& run_id, const std::string& kind,
                           const std::string& id, const std::string& extension) {
  return run_folder(run_id, kind) + work_file_name(id) + "." + extension;
}

std::string checkpoint_key(const std::string& run_id, const std::string& kind,
                           const std::string& id, std::uint64_t point,
                           const std::string& extension) {
  return run_folder(run_id, kind) + work_file_name(id) + "-" + std::to_string(point) + "." +
         extension;
}

std::string ledger_prefix(const std::string& date, const std::string& group_id) {
  return ledger_day_prefix(date) + work_file_name(group_id) + "/";
}

std::string ledger_run_prefix(const std::string& date, const std::string& group_id,
                              const std::string& run_id) {
  return ledger_prefix(date, group_id) + run_id + "/";
}

std::string ledger_day_prefix(const std::string& date) {
  return date.empty() ? "ledger/" : "ledger/" + date + "/";
}

std::string ledger_key(const std::string& prefix, const std::string& output_key) {
  return prefix + work_file_name(output_key) + ".json";
}

std::string destination_root(const std::string& destination_prefix) {
  std::string root = destination_prefix;
  while (!root.empty() && root.back() == '/') root.pop_back();
  return root.empty() ? root : root + "/";
}

std::string group_directory(const std::string& destination_prefix, const Group& group) {
  const std::string root = destination_root(destination_prefix);
  if (group.kind == GroupKind::kControlTower) {
    return root + group.log_type + "/account=" + group.account + "/region=" + group.region +
           "/date=" + group.date;
  }
  return root + group.source_bucket + "/date=" + group.date;
}

std::string group_output_name(const Group& group) {
  if (group.kind == GroupKind::kControlTower)
    return group.log_type + "_" + group.account + "_" + group.region + "_" + group.date;
  return slug(group.directory) + "-" + common::sha256_hex(group.directory).substr(0, 8);
}

std::string manifest_key_base(const std::string& destination_prefix, const std::string& bucket,
                              const std::string& date, const std::string& manifest_id) {
  return destination_root(destination_prefix) + bucket + "/date=" + date + "/batch-" + manifest_id;
}

namespace {

// "<prefix>-parquet/", or "parquet/" without a prefix: beside the combined objects, never under.
std::string parquet_root(const std::string& destination_prefix) {
  const std::string root = destination_root(destination_prefix);
  return root.empty() ? "parquet/" : root.substr(0, root.size() - 1) + "-parquet/";
}

}  // namespace

std::string parquet_day_folder(const std::string& destination_prefix, const std::string& table,
                               const std::string& date) {
  return parquet_root(destination_prefix) + table + "/date=" + date + "/";
}

std::string parquet_batch_folder(const std::string& destination_prefix, const std::string& table,
                                 const std::string& bucket, const std::string& date,
                                 const std::string& manifest_id) {
  return parquet_root(destination_prefix) + table + "/bucket=" + bucket + "/date=" + date +
         "/batch=" + manifest_id + "/";
}

std::string amplify_log_key(const std::string& destination_prefix,
                            const std::string& amplify_folder, const std::string& app_name,
                            std::chrono::sys_seconds chunk_start) {
  // 2026-11-16T08:30:00Z: date_export=2026-11-16, log_20261116_083000.
  const std::string time = common::format_utc_seconds(chunk_start);
  std::string stamp;
  for (char c : time.substr(0, 19)) {
    if (c == 'T')
      stamp += '_';
    else if (c != '-' && c != ':')
      stamp += c;
  }
  std::string folder = amplify_folder;
  while (!folder.empty() && folder.back() == '/') folder.pop_back();
  return destination_root(destination_prefix) + folder + "/app=" + app_name +
         "/date_export=" + time.substr(0, 10) + "/log_" + stamp;
}

std::optional<HivePartition> hive_partition_of(const std::string& destination_prefix,
                                               const std::string& key) {
  const std::string root = destination_root(destination_prefix);
  if (!key.starts_with(root)) return std::nullopt;
  const std::string rest = key.substr(root.size());
  const auto table_end = rest.find('/');
  const auto file_start = rest.rfind('/');
  if (table_end == std::string::npos || file_start == table_end) return std::nullopt;
  HivePartition partition{rest.substr(0, table_end), rest.substr(0, file_start + 1), {}};
  for (std::size_t start = table_end + 1; start < partition.folder.size();) {
    const auto end = partition.folder.find('/', start);
    const std::string segment = partition.folder.substr(start, end - start);
    if (const auto equals = segment.find('='); equals != std::string::npos)
      partition.values.push_back(segment.substr(equals + 1));
    start = end + 1;
  }
  if (partition.values.empty()) return std::nullopt;
  return partition;
}

}  // namespace pipeline
