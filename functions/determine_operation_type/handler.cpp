#include "functions/determine_operation_type/handler.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "common/dates.h"
#include "common/settings.h"
#include "common/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::determine_operation_type {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

// The packed part size for this many small bytes next to `large_parts` copied parts: 8 MiB, or
// bigger (in whole MiB) when 8 MiB parts would not fit in what is left of the 10,000.
std::uint64_t part_size_for(std::uint64_t small_bytes, std::uint64_t large_parts) {
  if (large_parts >= kMaxParts) return kMaxPartSize + 1;  // cannot fit
  const std::uint64_t parts_left = kMaxParts - large_parts;
  const std::uint64_t needed = ceil_div(small_bytes, parts_left);
  return std::max(kMinPartSize, ceil_div(needed, kMiB) * kMiB);
}

std::uint64_t large_parts_of(const Source& source) {
  return source.size >= kCopyThreshold ? ceil_div(source.size, kMaxCopyPartSize) : 0;
}

std::string join_key(const std::string& prefix, const std::string& rest) {
  std::string trimmed = prefix;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  return trimmed.empty() ? rest : trimmed + "/" + rest;
}

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

std::string string_field(const json::object& object, const char* name, bool required = true) {
  const auto* value = object.if_contains(name);
  if (value == nullptr && !required) return {};
  if (value == nullptr || !value->is_string() || value->get_string().empty()) {
    throw runtime::InvalidInput(std::string("the group needs a non-empty string \"") + name + "\"");
  }
  return std::string(value->get_string());
}

// Where a group's outputs go, Hive-style so Athena can partition on account, region and date.
std::string destination_directory(const Config& config, const json::object& group,
                                  const std::string& date) {
  if (string_field(group, "kind") == "control_tower") {
    const std::string type = string_field(group, "log_type");
    return join_key(config.destination_prefix, type + "/account=" + string_field(group, "account") +
                                                   "/region=" + string_field(group, "region") +
                                                   "/date=" + date);
  }
  return join_key(config.destination_prefix,
                  string_field(group, "source_bucket") + "/date=" + date);
}

std::string output_name(const json::object& group, const std::string& date) {
  if (string_field(group, "kind") == "control_tower") {
    return string_field(group, "log_type") + "_" + string_field(group, "account") + "_" +
           string_field(group, "region") + "_" + date;
  }
  return slug(string_field(group, "directory", false));
}

std::vector<Source> read_sources(common::S3Client& s3, const common::FileRef& file) {
  std::vector<Source> sources;
  for (const auto& line : common::read_jsonl(s3, file)) {
    const auto* key = line.if_contains("key");
    if (key == nullptr || !key->is_string() || key->get_string().empty()) {
      throw runtime::InvalidInput("a line of the file list has no \"key\"");
    }
    Source source;
    source.key = std::string(key->get_string());
    if (const auto* size = line.if_contains("size"); size && size->is_number()) {
      source.size = size->to_number<std::uint64_t>();
    } else {
      source.size = UINT64_MAX;  // unknown: asked of S3 below
    }
    if (const auto* etag = line.if_contains("etag"); etag && etag->is_string())
      source.etag = etag->get_string();
    if (const auto* version = line.if_contains("version_id"); version && version->is_string()) {
      source.version_id = version->get_string();
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

// HEADs, in parallel, the sources whose size or etag the list did not give.
void fill_unknown_sizes(const Config& config, common::S3Client& s3, const std::string& bucket,
                        std::vector<Source>& sources) {
  std::vector<std::size_t> unknown;
  std::vector<common::AwsRequest> requests;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].size != UINT64_MAX && !sources[i].etag.empty()) continue;
    unknown.push_back(i);
    common::AwsRequest request =
        s3.get_object_request(bucket, sources[i].key, {sources[i].version_id, {}, ""});
    request.operation = "HeadObject";
    request.method = "HEAD";
    requests.push_back(std::move(request));
  }
  if (requests.empty()) return;
  runtime::log::info("asking S3 for sizes the list did not give", "files", requests.size());
  s3.client().send_each(std::move(requests), config.head_concurrency,
                        [&](std::size_t index, common::AwsOutcome&& outcome) {
                          const auto& response = outcome.value();  // a missing file fails the plan
                          Source& source = sources[unknown[index]];
                          source.size =
                              std::strtoull(response.header("content-length").c_str(), nullptr, 10);
                          source.etag = response.header("etag");
                          if (source.version_id.empty())
                            source.version_id = response.header("x-amz-version-id");
                        });
}

json::object source_json(const Source& source) {
  json::object object{{"key", source.key}, {"size", source.size}, {"etag", source.etag}};
  if (!source.version_id.empty() && source.version_id != "null")
    object["version_id"] = source.version_id;
  return object;
}

}  // namespace

std::uint64_t parts_needed(const std::vector<Source>& sources, std::uint64_t part_size) {
  std::uint64_t large = 0;
  std::uint64_t small_bytes = 0;
  for (const auto& source : sources) {
    if (source.size >= kCopyThreshold)
      large += large_parts_of(source);
    else
      small_bytes += source.size;
  }
  return large + ceil_div(small_bytes, part_size);
}

std::uint64_t next_output_number(const std::vector<std::string>& existing,
                                 const std::string& key_base) {
  std::uint64_t highest = 0;
  const std::string stem = key_base + "-";
  for (const auto& key : existing) {
    if (!key.starts_with(stem)) continue;
    const std::size_t digits_end = key.find_first_not_of("0123456789", stem.size());
    const std::size_t digits =
        (digits_end == std::string::npos ? key.size() : digits_end) - stem.size();
    // key_base-NNNN followed by the extension CombineLogFiles adds, nothing else.
    if (digits < 4 || digits > 9 || (digits_end != std::string::npos && key[digits_end] != '.'))
      continue;
    highest = std::max<std::uint64_t>(highest, std::stoull(key.substr(stem.size(), digits)));
  }
  return highest + 1;
}

std::string unused_key(const std::set<std::string>& existing, const std::string& key) {
  if (!existing.contains(key)) return key;
  const std::size_t slash = key.rfind('/');
  const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  std::size_t dot = key.find('.', name_start);
  if (dot == name_start) dot = key.find('.', name_start + 1);  // a hidden file's leading dot
  if (dot == std::string::npos) dot = key.size();
  for (std::uint64_t number = 2;; ++number) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04llu", static_cast<unsigned long long>(number));
    std::string candidate = key.substr(0, dot) + suffix + key.substr(dot);
    if (!existing.contains(candidate)) return candidate;
  }
}

std::vector<Output> plan_outputs(std::vector<Source> sources, const std::string& key_base,
                                 std::uint64_t max_output_bytes, std::uint64_t first_number) {
  std::sort(sources.begin(), sources.end(),
            [](const Source& a, const Source& b) { return a.key < b.key; });
  std::vector<Output> outputs;
  Output current;
  std::uint64_t large_parts = 0;
  std::uint64_t small_bytes = 0;
  auto close = [&] {
    if (current.sources.empty()) return;
    current.part_size = part_size_for(small_bytes, large_parts);
    // Copied sources first, then packed ones: every part but the last is then at least 5 MiB.
    std::stable_partition(current.sources.begin(), current.sources.end(),
                          [](const Source& source) { return source.size >= kCopyThreshold; });
    outputs.push_back(std::move(current));
    current = Output{};
    large_parts = 0;
    small_bytes = 0;
  };
  for (auto& source : sources) {
    const std::uint64_t next_large = large_parts + large_parts_of(source);
    const std::uint64_t next_small =
        small_bytes + (source.size >= kCopyThreshold ? 0 : source.size);
    const bool too_big = current.bytes + source.size > max_output_bytes;
    const bool too_many_parts = part_size_for(next_small, next_large) > kMaxPartSize;
    if (!current.sources.empty() && (too_big || too_many_parts)) close();
    large_parts += large_parts_of(source);
    small_bytes += source.size >= kCopyThreshold ? 0 : source.size;
    current.bytes += source.size;
    current.sources.push_back(std::move(source));
  }
  close();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04llu",
                  static_cast<unsigned long long>(first_number + i));
    outputs[i].key_base = key_base + suffix;
  }
  return outputs;
}

Config Config::from_environment() {
  Config config;
  config.work_bucket = common::required_setting("WORK_BUCKET");
  config.destination_bucket = common::required_setting("DESTINATION_BUCKET");
  config.destination_prefix = common::setting("DESTINATION_PREFIX", config.destination_prefix);
  config.glacier_min_size = common::number_setting("GLACIER_MIN_SIZE", config.glacier_min_size);
  config.max_output_bytes = common::number_setting("MAX_OUTPUT_BYTES", config.max_output_bytes);
  config.head_concurrency = common::number_setting("HEAD_CONCURRENCY", config.head_concurrency);
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, const json::value& event) {
  if (!event.is_object()) throw runtime::InvalidInput("the event must be a group object");
  // From a Map: {"group": {...}, "run_id": "..."}; by hand: the group itself with "run_id".
  json::object merged;
  if (const auto* item = event.get_object().if_contains("group")) {
    if (!item->is_object()) throw runtime::InvalidInput("\"group\" must be an object");
    merged = item->get_object();
    if (const auto* run_id = event.get_object().if_contains("run_id")) merged["run_id"] = *run_id;
  } else {
    merged = event.get_object();
  }
  const auto& group = merged;
  const std::string group_id = string_field(group, "group_id");
  const std::string run_id = common::run_id_of(group);
  const std::string bucket = string_field(group, "source_bucket");
  const std::string date_text = string_field(group, "date");
  if (!common::Date::parse(date_text)) throw runtime::InvalidInput("\"date\" must be YYYY-MM-DD");
  const std::string kind = string_field(group, "kind");
  if (kind != "control_tower" && kind != "other") {
    throw runtime::InvalidInput("\"kind\" must be control_tower or other, not '" + kind + "'");
  }
  if (!group.contains("files")) throw runtime::InvalidInput("the group needs \"files\"");
  const auto files = common::FileRef::from_json(group.at("files"), "files");

  std::vector<Source> sources = read_sources(s3, files);
  fill_unknown_sizes(config, s3, bucket, sources);
  std::uint64_t total = 0;
  for (const auto& source : sources) total += source.size;

  std::string operation = "aggregate";
  if (sources.empty())
    operation = "none";
  else if (std::all_of(sources.begin(), sources.end(), [&](const Source& source) {
             return source.size >= config.glacier_min_size;
           })) {
    operation = "copy_all";
  }
  json::object result{{"group_id", group_id},    {"run_id", run_id}, {"operation", operation},
                      {"files", sources.size()}, {"bytes", total},   {"outputs", 0}};
  if (operation == "none") return result;

  const std::string directory = destination_directory(config, group, date_text);
  std::vector<std::string> existing;
  for (auto& object : s3.list_all(config.destination_bucket, directory + "/"))
    existing.push_back(std::move(object.key));
  std::vector<Output> outputs;
  if (operation == "copy_all") {
    std::set<std::string> taken(existing.begin(), existing.end());
    for (auto& source : sources) {
      Output output;
      const auto slash = source.key.rfind('/');
      output.key_base = unused_key(
          taken, directory + "/" +
                     (slash == std::string::npos ? source.key : source.key.substr(slash + 1)));
      taken.insert(output.key_base);
      output.copy = true;
      output.bytes = source.size;
      output.part_size = kMaxCopyPartSize;
      output.sources.push_back(std::move(source));
      outputs.push_back(std::move(output));
    }
  } else {
    // Groups are already per account, type and region (Control Tower) or per folder (hour
    // folders included), which is the original's per-account and per-hour aggregation.
    const std::string key_base = directory + "/" + output_name(group, date_text);
    outputs = plan_outputs(std::move(sources), key_base, config.max_output_bytes,
                           next_output_number(existing, key_base));
  }

  json::array output_items;
  for (const auto& output : outputs) {
    json::array listed;
    for (const auto& source : output.sources) listed.push_back(source_json(source));
    output_items.push_back(json::object{{"key_base", output.key_base},
                                        {"copy", output.copy},
                                        {"part_size", output.part_size},
                                        {"bytes", output.bytes},
                                        {"sources", std::move(listed)}});
  }
  json::object plan{{"group_id", group_id},
                    {"operation", operation},
                    {"source_bucket", bucket},
                    {"date", date_text},
                    {"outputs", output_items}};
  const std::string key = "work/" + run_id + "/plans/" + common::work_file_name(group_id) + ".json";
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(config.work_bucket, key, json::serialize(plan), put);
  const common::FileRef plan_file{config.work_bucket, key,
                                  static_cast<std::int64_t>(outputs.size()),
                                  static_cast<std::int64_t>(total)};
  runtime::log::info("planned", "group", group_id, "operation", operation, "outputs",
                     outputs.size(), "bytes", total);
  result["plan"] = plan_file.to_json();
  result["outputs"] = outputs.size();
  return result;
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext&) {
    return handle(*config, *s3, event);
  };
}

}  // namespace functions::determine_operation_type
