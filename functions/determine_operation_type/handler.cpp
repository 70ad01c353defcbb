#include "functions/determine_operation_type/handler.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "common/dates.h"
#include "common/settings.h"
#include "common/sigv4.h"
#include "pipeline/ledger.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::determine_operation_type {

namespace json = boost::json;

namespace {

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
  // An optional field may be empty: the directory of a bucket's root is "".
  if (!required && (value == nullptr || (value->is_string() && value->get_string().empty())))
    return {};
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
  // A slug alone collides ("a/b/" and "a_b/", "" and "root/"), and two groups of one day must
  // never share an output key: the exact folder's hash makes the name the group's own.
  const std::string directory = string_field(group, "directory", false);
  return slug(directory) + "-" + common::sha256_hex(directory).substr(0, 8);
}

std::vector<Source> read_sources(common::S3Client& s3, const pipeline::FileRef& file) {
  std::vector<Source> sources;
  for (const auto& line : pipeline::read_jsonl(s3, file)) {
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

// Uploads an earlier attempt at this group's outputs left open (killed mid-output, its run failed):
// this plan numbers its outputs after the ones that exist, so nothing will ever complete them.
void abort_abandoned_uploads(const Config& config, common::S3Client& s3,
                             const std::string& outputs_prefix) {
  for (const auto& upload : s3.list_multipart_uploads(config.destination_bucket, outputs_prefix)) {
    try {
      s3.abort_multipart_upload(config.destination_bucket, upload.key, upload.upload_id);
      runtime::log::warn("aborted an upload an earlier attempt left open", "key", upload.key);
    } catch (const common::NoSuchUpload&) {
      // Gone already.
    }
  }
}

// Sources an earlier run of this day put into an output that still stands, as the ledger and the
// destination's listing show it: they leave `sources` and go straight to deletion.
json::array take_already_combined(const Config& config, common::S3Client& s3,
                                  const std::string& group_id, const std::string& date,
                                  const std::vector<common::S3Object>& existing,
                                  std::vector<Source>& sources) {
  json::array already;
  if (sources.empty()) return already;
  const auto combined = pipeline::combined_sources(s3, config.work_bucket, date, group_id);
  if (combined.empty()) return already;
  std::map<std::string, const common::S3Object*> standing;
  for (const auto& object : existing) standing[object.key] = &object;
  std::vector<Source> rest;
  for (auto& source : sources) {
    const auto found = combined.find(pipeline::combined_identity(source));
    bool stands = false;
    if (found != combined.end() &&
        found->second.at("bucket").as_string() == config.destination_bucket) {
      const auto output = standing.find(std::string(found->second.at("key").as_string()));
      stands = output != standing.end() &&
               output->second->size == found->second.at("size").to_number<std::uint64_t>() &&
               output->second->etag == found->second.at("etag").as_string();
    }
    if (!stands) {
      rest.push_back(std::move(source));
      continue;
    }
    json::object entry = pipeline::source_json(source);
    entry["output"] = found->second;
    already.push_back(std::move(entry));
  }
  sources = std::move(rest);
  if (!already.empty()) {
    runtime::log::warn("originals already in an earlier run's output go straight to deletion",
                       "group", group_id, "files", already.size());
  }
  return already;
}

// The outputs of a group: each file as it is (copy_all), or packed into numbered outputs.
std::vector<Output> plan_group(const Config& config, const std::string& directory,
                               const std::string& name, const std::string& operation,
                               const std::vector<common::S3Object>& existing_outputs,
                               std::vector<Source> sources) {
  std::vector<std::string> existing;
  for (const auto& object : existing_outputs) existing.push_back(object.key);
  if (operation != "copy_all") {
    // Groups are already per account, type and region (Control Tower) or per folder (hour
    // folders included), which is the original's per-account and per-hour aggregation.
    const std::string key_base = directory + "/" + name;
    return pipeline::plan_outputs(std::move(sources), key_base, config.max_output_bytes,
                                  pipeline::next_output_number(existing, key_base));
  }
  // Named by the group as well as the file: h1/big.gz and h2/big.gz are two groups' files, and
  // two versions of one key get two numbers.
  std::vector<Output> outputs;
  std::set<std::string> taken(existing.begin(), existing.end());
  for (auto& source : sources) {
    Output output;
    const auto slash = source.key.rfind('/');
    output.key_base = pipeline::unused_key(
        taken, directory + "/" + name + "_" +
                   (slash == std::string::npos ? source.key : source.key.substr(slash + 1)));
    taken.insert(output.key_base);
    output.copy = true;
    output.bytes = source.size;
    output.part_size = pipeline::kMaxCopyPartSize;
    output.sources.push_back(std::move(source));
    outputs.push_back(std::move(output));
  }
  return outputs;
}

json::array outputs_json(const std::vector<Output>& outputs) {
  json::array items;
  for (const auto& output : outputs) {
    json::array listed;
    for (const auto& source : output.sources) listed.push_back(pipeline::source_json(source));
    items.push_back(json::object{{"key_base", output.key_base},
                                 {"copy", output.copy},
                                 {"part_size", output.part_size},
                                 {"bytes", output.bytes},
                                 {"sources", std::move(listed)}});
  }
  return items;
}

}  // namespace

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
  const std::string run_id = pipeline::run_id_of(group);
  const std::string bucket = string_field(group, "source_bucket");
  const std::string date_text = string_field(group, "date");
  if (!common::Date::parse(date_text)) throw runtime::InvalidInput("\"date\" must be YYYY-MM-DD");
  const std::string kind = string_field(group, "kind");
  if (kind != "control_tower" && kind != "other") {
    throw runtime::InvalidInput("\"kind\" must be control_tower or other, not '" + kind + "'");
  }
  if (!group.contains("files")) throw runtime::InvalidInput("the group needs \"files\"");
  const auto files = pipeline::FileRef::from_json(group.at("files"), "files");

  std::vector<Source> sources = read_sources(s3, files);
  fill_unknown_sizes(config, s3, bucket, sources);
  const std::string directory = destination_directory(config, group, date_text);
  const std::string name = output_name(group, date_text);
  const std::vector<common::S3Object> existing_outputs =
      sources.empty() ? std::vector<common::S3Object>{}
                      : s3.list_all(config.destination_bucket, directory + "/");
  const json::array already =
      take_already_combined(config, s3, group_id, date_text, existing_outputs, sources);
  if (!sources.empty()) abort_abandoned_uploads(config, s3, directory + "/" + name);
  std::uint64_t total = 0;
  for (const auto& source : sources) total += source.size;

  std::string operation = "aggregate";
  if (sources.empty() && already.empty())
    operation = "none";
  else if (!sources.empty() &&
           std::all_of(sources.begin(), sources.end(), [&](const Source& source) {
             return source.size >= config.glacier_min_size;
           })) {
    operation = "copy_all";
  }
  json::object result{{"group_id", group_id},
                      {"run_id", run_id},
                      {"operation", operation},
                      {"files", sources.size()},
                      {"bytes", total},
                      {"outputs", 0},
                      {"already_combined", already.size()}};
  if (operation == "none") return result;

  const std::vector<Output> outputs =
      plan_group(config, directory, name, operation, existing_outputs, std::move(sources));
  const json::object plan{
      {"group_id", group_id}, {"operation", operation},           {"source_bucket", bucket},
      {"date", date_text},    {"outputs", outputs_json(outputs)}, {"already_combined", already}};
  const std::string key =
      "work/" + run_id + "/plans/" + pipeline::work_file_name(group_id) + ".json";
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(config.work_bucket, key, json::serialize(plan), put);
  const pipeline::FileRef plan_file{config.work_bucket, key,
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
