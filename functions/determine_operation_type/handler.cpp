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
#include "pipeline/layout.h"
#include "pipeline/ledger.h"
#include "pipeline/plan_files.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::determine_operation_type {

namespace json = boost::json;

namespace {

// The group's file list as sources, HEADing in parallel the ones whose size or etag the list did
// not give.
std::vector<Source> read_sources(const Config& config, common::S3Client& s3, const Group& group) {
  std::vector<Source> sources;
  std::vector<std::size_t> unknown;
  std::vector<common::AwsRequest> requests;
  for (const auto& line : pipeline::read_jsonl(s3, group.files)) {
    const auto entry = pipeline::read_record<FileEntry>(line);
    sources.push_back(Source{entry.key, entry.size.value_or(0), entry.etag, entry.version_id});
    if (entry.size && !entry.etag.empty()) continue;
    unknown.push_back(sources.size() - 1);
    requests.push_back(s3.head_object_request(group.source_bucket, entry.key, entry.version_id));
  }
  if (requests.empty()) return sources;
  runtime::log::info("asking S3 for sizes the list did not give", "files", requests.size());
  s3.client().send_each(std::move(requests), config.head_concurrency,
                        [&](std::size_t index, common::AwsOutcome&& outcome) {
                          const auto& response = outcome.value();  // a missing file fails the plan
                          Source& source = sources[unknown[index]];
                          const auto head = common::S3Client::head_result(response);
                          source.size = head.size;
                          source.etag = head.etag;
                          if (source.version_id.empty()) source.version_id = head.version_id;
                        });
  return sources;
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

// Sources an earlier run of this day put into an output that still stands, as the group's sealed
// ledger records and the destination's listing show it: they leave `sources` and go straight to
// deletion. Those an unsealed record places in a standing output (one written before records
// were sealed) leave `sources` too, but stay where they are, reported: combined again they would
// be in two outputs, and nothing unsealed decides a deletion.
std::vector<AlreadyCombined> take_already_combined(const Config& config, common::S3Client& s3,
                                                   pipeline::SealChecker& checker,
                                                   const Group& group,
                                                   const std::vector<common::S3Object>& existing,
                                                   std::vector<Source>& sources) {
  std::vector<AlreadyCombined> already;
  if (sources.empty()) return already;
  pipeline::Ledger ledger(s3, config.work_bucket);
  const auto scan = ledger.scan(checker, pipeline::ledger_prefix(group.date, group.group_id));
  for (const auto& refused : scan.refused)
    runtime::log::warn("a ledger file decides nothing", "why", refused);
  if (scan.records.empty() && scan.unsealed.empty()) return already;
  std::map<std::string, const common::S3Object*> listed;
  for (const auto& object : existing) listed[object.key] = &object;
  const auto stands = [&](const pipeline::OutputRef& output) {
    const auto found = listed.find(output.key);
    return output.bucket == config.destination_bucket && found != listed.end() &&
           found->second->size == output.size && found->second->etag == output.etag;
  };
  const auto combined = pipeline::standing_originals(scan.records, group.source_bucket, stands);
  const auto unsealed = pipeline::standing_originals(scan.unsealed, group.source_bucket, stands);
  std::vector<Source> rest;
  std::size_t kept = 0;
  for (auto& source : sources) {
    const auto id = pipeline::OriginalId::of(source);
    if (const auto found = combined.find(id); found != combined.end())
      already.push_back({std::move(source), found->second.output->where});
    else if (unsealed.contains(id))
      ++kept;
    else
      rest.push_back(std::move(source));
  }
  sources = std::move(rest);
  if (!already.empty()) {
    runtime::log::warn("originals already in an earlier run's output go straight to deletion",
                       "group", group.group_id, "files", already.size());
  }
  if (kept > 0) {
    runtime::log::warn("originals an unsealed ledger record places in a standing output stay",
                       "group", group.group_id, "files", kept);
    runtime::metrics::add("OriginalsKeptUnsealed", runtime::metrics::Unit::Count,
                          static_cast<double>(kept));
  }
  return already;
}

// The outputs of a group: each file as it is (copy_all), or packed into numbered outputs.
std::vector<PlannedOutput> plan_group(const Config& config, const std::string& directory,
                                      const std::string& name, Operation operation,
                                      const std::vector<common::S3Object>& existing_outputs,
                                      std::vector<Source> sources) {
  std::vector<std::string> existing;
  for (const auto& object : existing_outputs) existing.push_back(object.key);
  if (operation != Operation::kCopyAll) {
    // Groups are already per account, type and region (Control Tower) or per folder (hour
    // folders included), which is the original's per-account and per-hour aggregation.
    const std::string key_base = directory + "/" + name;
    return pipeline::plan_outputs(std::move(sources), key_base, config.max_output_bytes,
                                  pipeline::next_output_number(existing, key_base));
  }
  // Named by the group as well as the file: h1/big.gz and h2/big.gz are two groups' files, and
  // two versions of one key get two numbers.
  std::vector<PlannedOutput> outputs;
  std::set<std::string> taken(existing.begin(), existing.end());
  for (auto& source : sources) {
    PlannedOutput output;
    const auto slash = source.key.rfind('/');
    output.key_base = pipeline::unused_key(
        taken, directory + "/" + name + "_" +
                   (slash == std::string::npos ? source.key : source.key.substr(slash + 1)));
    taken.insert(output.key_base);
    output.copy = true;
    output.bytes = source.size;
    output.part_size = common::kMaxPartBytes;
    output.sources.push_back(std::move(source));
    outputs.push_back(std::move(output));
  }
  return outputs;
}

// {"group": {...}, "run_id"} from the Map's ItemSelector, or by hand the group itself with its
// "run_id".
Group group_of(const json::value& event) {
  if (!event.is_object()) throw runtime::InvalidInput("the event must be a group object");
  const json::object& input = event.get_object();
  json::object merged;
  if (const auto* item = input.if_contains("group")) {
    if (!item->is_object()) throw runtime::InvalidInput("\"group\" must be an object");
    merged = item->get_object();
    if (const auto* run_id = input.if_contains("run_id")) merged["run_id"] = *run_id;
  } else {
    merged = input;
  }
  Group group = pipeline::read_record<Group>(merged);
  if (group.run_id.empty()) group.run_id = pipeline::run_id_of(merged);  // InvalidInput: absent
  return group;
}

// Every file as it is when each is at least GLACIER_MIN_SIZE; else packed; nothing to do when
// nothing is left to combine or delete.
Operation operation_for(const Config& config, const std::vector<Source>& sources,
                        std::size_t already_combined) {
  if (sources.empty()) return already_combined == 0 ? Operation::kNone : Operation::kAggregate;
  const bool all_large = std::all_of(sources.begin(), sources.end(), [&](const Source& source) {
    return source.size >= config.glacier_min_size;
  });
  return all_large ? Operation::kCopyAll : Operation::kAggregate;
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

json::value handle(const Config& config, common::S3Client& s3, pipeline::SealChecker& checker,
                   const json::value& event) {
  const Group group = group_of(event);
  std::vector<Source> sources = read_sources(config, s3, group);
  const std::string directory = pipeline::group_directory(config.destination_prefix, group);
  const std::string name = pipeline::group_output_name(group);
  const std::vector<common::S3Object> existing_outputs =
      sources.empty() ? std::vector<common::S3Object>{}
                      : s3.list_all(config.destination_bucket, directory + "/");
  Plan plan{group.group_id,
            Operation::kAggregate,
            group.source_bucket,
            group.date,
            {},
            take_already_combined(config, s3, checker, group, existing_outputs, sources)};
  if (!sources.empty()) abort_abandoned_uploads(config, s3, directory + "/" + name);
  std::uint64_t total = 0;
  for (const auto& source : sources) total += source.size;
  plan.operation = operation_for(config, sources, plan.already_combined.size());
  pipeline::PlanResult result{group.group_id,
                              group.run_id,
                              plan.operation,
                              std::nullopt,
                              0,
                              sources.size(),
                              total,
                              plan.already_combined.size()};
  if (plan.operation == Operation::kNone) return json::value_from(result);

  plan.outputs =
      plan_group(config, directory, name, plan.operation, existing_outputs, std::move(sources));
  const std::string key = pipeline::group_file_key(group.run_id, "plans", group.group_id, "json");
  runtime::log::info("planned", "group", group.group_id, "operation", to_string(plan.operation),
                     "outputs", plan.outputs.size(), "bytes", total);
  result.outputs = plan.outputs.size();
  result.plan =
      pipeline::write_plan(s3, config.work_bucket, key, std::move(plan), config.head_concurrency);
  return json::value_from(result);
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  auto seals = std::make_shared<pipeline::Seals>(pipeline::seal_key_id());
  return [config, s3, seals](const json::value& event, const runtime::InvocationContext&) {
    return handle(*config, *s3, seals->checker(), event);
  };
}

}  // namespace functions::determine_operation_type
