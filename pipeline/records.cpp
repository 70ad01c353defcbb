#include "pipeline/records.h"

#include "pipeline/record_fields.h"

namespace pipeline {

namespace json = boost::json;

namespace {

template <typename T>
json::array list_json(const std::vector<T>& items) {
  json::array list;
  list.reserve(items.size());
  for (const auto& item : items) list.push_back(json::value_from(item));
  return list;
}

void put_source_fields(json::object& object, const Source& source) {
  object["key"] = source.key;
  object["size"] = source.size;
  object["etag"] = source.etag;
  if (!source.version_id.empty() && source.version_id != "null")
    object["version_id"] = source.version_id;
  if (!source.encryption.empty()) object["encryption"] = source.encryption;
}

Source source_of(const RecordFields& fields) {
  return Source{fields.text("key"), fields.count("size"), fields.text("etag"),
                fields.optional_text("version_id"), fields.optional_text("encryption")};
}

Operation operation_of(const RecordFields& fields, const std::string& operation) {
  if (operation == "none") return Operation::kNone;
  if (operation == "copy_all") return Operation::kCopyAll;
  if (operation == "aggregate") return Operation::kAggregate;
  fields.refuse("needs \"operation\" none, copy_all or aggregate, not '" + operation + "'");
}

std::uint64_t optional_count(const RecordFields& fields, std::string_view name) {
  return fields.optional_count(name).value_or(0);
}

}  // namespace

std::string to_string(GroupKind kind) {
  return kind == GroupKind::kControlTower ? "control_tower" : "other";
}

std::string to_string(Operation operation) {
  switch (operation) {
    case Operation::kNone:
      return "none";
    case Operation::kCopyAll:
      return "copy_all";
    case Operation::kAggregate:
      return "aggregate";
  }
  return "aggregate";
}

OutputRecord OutputRecord::summary(const std::string& work_bucket,
                                   const std::string& ledger_key) const {
  OutputRecord summary{where, version_id, parts, copied_bytes, {}, source_bucket, {}, {}, {}, {}};
  summary.index = FileRef{work_bucket, ledger_key, static_cast<std::int64_t>(files()),
                          static_cast<std::int64_t>(source_bytes())};
  return summary;
}
std::uint64_t OutputRecord::files() const {
  return index ? static_cast<std::uint64_t>(index->count) : sources.size();
}
std::uint64_t OutputRecord::source_bytes() const {
  if (index) return static_cast<std::uint64_t>(index->bytes);
  std::uint64_t bytes = 0;
  for (const auto& source : sources) bytes += source.size;
  return bytes;
}

std::uint64_t Combined::files() const {
  std::uint64_t files = 0;
  for (const auto& output : outputs) files += output.files();
  return files;
}
std::uint64_t Combined::bytes_in() const {
  std::uint64_t bytes = 0;
  for (const auto& output : outputs) bytes += output.source_bytes();
  return bytes;
}
std::uint64_t Combined::bytes_out() const {
  std::uint64_t bytes = 0;
  for (const auto& output : outputs) bytes += output.where.size;
  return bytes;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const FileRef& file) {
  json = file.to_json();
}
FileRef tag_invoke(const json::value_to_tag<FileRef>&, const json::value& json) {
  return FileRef::from_json(json, "a work file reference");
}

void tag_invoke(const json::value_from_tag&, json::value& json, const Source& source) {
  put_source_fields(json.emplace_object(), source);
}
Source tag_invoke(const json::value_to_tag<Source>&, const json::value& json) {
  return source_of(RecordFields(json, "a source"));
}

void tag_invoke(const json::value_from_tag&, json::value& json, const FileEntry& entry) {
  json::object& object = json.emplace_object();
  object["key"] = entry.key;
  if (entry.size) object["size"] = *entry.size;
  if (!entry.etag.empty()) object["etag"] = entry.etag;
  if (!entry.last_modified.empty()) object["last_modified"] = entry.last_modified;
  if (!entry.version_id.empty() && entry.version_id != "null")
    object["version_id"] = entry.version_id;
}
FileEntry tag_invoke(const json::value_to_tag<FileEntry>&, const json::value& json) {
  const RecordFields fields(json, "a line of a file list");
  return FileEntry{fields.text("key"), fields.optional_count("size"), fields.optional_text("etag"),
                   fields.optional_text("last_modified"), fields.optional_text("version_id")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const Group& group) {
  json::object& object = json.emplace_object();
  object["group_id"] = group.group_id;
  object["kind"] = to_string(group.kind);
  object["source_bucket"] = group.source_bucket;
  object["date"] = group.date;
  object["files"] = json::value_from(group.files);
  if (group.kind == GroupKind::kControlTower) {
    object["account"] = group.account;
    object["log_type"] = group.log_type;
    object["region"] = group.region;
  } else {
    object["directory"] = group.directory;
  }
  if (!group.run_id.empty()) object["run_id"] = group.run_id;
}
Group tag_invoke(const json::value_to_tag<Group>&, const json::value& json) {
  const RecordFields fields(json, "the group");
  Group group;
  group.group_id = fields.text("group_id");
  group.kind = fields.kind("kind");
  group.source_bucket = fields.text("source_bucket");
  group.date = fields.date("date");
  group.files = fields.record<FileRef>("files");
  if (group.kind == GroupKind::kControlTower) {
    group.account = fields.text("account");
    group.log_type = fields.text("log_type");
    group.region = fields.text("region");
  } else {
    group.directory = fields.optional_text("directory");
  }
  if (fields.object().contains("run_id")) group.run_id = run_id_of(fields.object());
  return group;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const PlannedOutput& output) {
  json = {{"key_base", output.key_base},
          {"copy", output.copy},
          {"part_size", output.part_size},
          {"bytes", output.bytes},
          {"sources", output.sources_file ? json::value(output.sources_file->to_json())
                                          : json::value(list_json(output.sources))}};
}
PlannedOutput tag_invoke(const json::value_to_tag<PlannedOutput>&, const json::value& json) {
  const RecordFields fields(json, "a planned output");
  PlannedOutput output{fields.text("key_base"),
                       fields.flag("copy"),
                       fields.count("part_size"),
                       fields.count("bytes"),
                       {},
                       std::nullopt};
  const auto* sources = json.as_object().if_contains("sources");
  if (sources != nullptr && sources->is_object())
    output.sources_file = fields.record<FileRef>("sources");
  else
    output.sources = fields.list<Source>("sources");
  return output;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const OutputRef& output) {
  json = {
      {"bucket", output.bucket}, {"key", output.key}, {"size", output.size}, {"etag", output.etag}};
}
OutputRef tag_invoke(const json::value_to_tag<OutputRef>&, const json::value& json) {
  const RecordFields fields(json, "an output");
  return OutputRef{fields.text("bucket"), fields.text("key"), fields.count("size"),
                   fields.text("etag")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AlreadyCombined& already) {
  json::object& object = json.emplace_object();
  put_source_fields(object, already.source);
  object["output"] = json::value_from(already.output);
}
AlreadyCombined tag_invoke(const json::value_to_tag<AlreadyCombined>&, const json::value& json) {
  const RecordFields fields(json, "an original already combined");
  return AlreadyCombined{source_of(fields), fields.record<OutputRef>("output")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const Plan& plan) {
  json::object& object = json.emplace_object();
  object["group_id"] = plan.group_id;
  object["operation"] = to_string(plan.operation);
  object["source_bucket"] = plan.source_bucket;
  object["date"] = plan.date;
  object["outputs"] = list_json(plan.outputs);
  if (!plan.already_combined.empty()) object["already_combined"] = list_json(plan.already_combined);
}
Plan tag_invoke(const json::value_to_tag<Plan>&, const json::value& json) {
  const RecordFields fields(json, "the plan");
  Plan plan;
  plan.group_id = fields.text("group_id");
  plan.operation = operation_of(fields, fields.text("operation"));
  plan.source_bucket = fields.text("source_bucket");
  plan.date = fields.date("date");
  plan.outputs = fields.list<PlannedOutput>("outputs");
  plan.already_combined = fields.list<AlreadyCombined>("already_combined", true);
  return plan;
}

std::optional<std::string> OutputRecord::index_problem() const {
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < offsets.size() && i < sources.size(); ++i) {
    if (offsets[i] < end)
      return sources[i].key + " starts at byte " + std::to_string(offsets[i]) +
             ", inside the original before it";
    end = offsets[i] + sources[i].size;
    if (end > where.size)
      return sources[i].key + " would end at byte " + std::to_string(end) + " of " +
             std::to_string(where.size);
  }
  for (const auto* digests : {&sha256, &content_sha256}) {
    for (std::size_t i = 0; i < digests->size(); ++i) {
      const std::string& digest = (*digests)[i];
      if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
        return "the digest of " + sources[i].key + " is not a SHA-256 in hex: '" + digest + "'";
    }
  }
  return std::nullopt;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const OutputRecord& output) {
  json::object object{{"bucket", output.where.bucket},      {"key", output.where.key},
                      {"size", output.where.size},          {"etag", output.where.etag},
                      {"version_id", output.version_id},    {"parts", output.parts},
                      {"copied_bytes", output.copied_bytes}};
  if (output.index)
    object["index"] = output.index->to_json();
  else
    object["sources"] = list_json(output.sources);
  if (!output.source_bucket.empty()) object["source_bucket"] = output.source_bucket;
  if (!output.offsets.empty()) object["offsets"] = list_json(output.offsets);
  if (!output.sha256.empty()) object["sha256"] = list_json(output.sha256);
  if (!output.content_sha256.empty()) object["content_sha256"] = list_json(output.content_sha256);
  json = std::move(object);
}
OutputRecord tag_invoke(const json::value_to_tag<OutputRecord>&, const json::value& json) {
  const RecordFields fields(json, "an output record");
  OutputRecord output{OutputRef{fields.text("bucket"), fields.text("key"), fields.count("size"),
                                fields.text("etag")},
                      fields.optional_text("version_id"),
                      fields.count("parts"),
                      fields.count("copied_bytes"),
                      fields.list<Source>("sources", fields.has("index")),
                      fields.optional_text("source_bucket"),
                      fields.counts("offsets"),
                      fields.texts("sha256", true),
                      fields.texts("content_sha256", true),
                      std::nullopt};
  const auto parallel = [&](std::size_t size, const char* name) {
    if (size != 0 && size != output.sources.size())
      fields.refuse("has " + std::to_string(size) + " " + name + " for " +
                    std::to_string(output.sources.size()) + " sources");
  };
  if (fields.has("index")) {
    output.index = fields.record<FileRef>("index");
    if (!output.sources.empty() || !output.offsets.empty() || !output.sha256.empty())
      fields.refuse("is a summary (\"index\") and a whole record at once");
  }
  parallel(output.offsets.size(), "offsets");
  parallel(output.sha256.size(), "sha256 digests");
  parallel(output.content_sha256.size(), "content_sha256 digests");
  if (output.sha256.size() != output.content_sha256.size() ||
      (!output.sha256.empty() && output.offsets.empty()))
    fields.refuse("needs \"sha256\" and \"content_sha256\" together, with \"offsets\"");
  return output;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const SkippedFile& skipped) {
  json = {{"key", skipped.key}, {"version_id", skipped.version_id}, {"reason", skipped.reason}};
}
SkippedFile tag_invoke(const json::value_to_tag<SkippedFile>&, const json::value& json) {
  const RecordFields fields(json, "a skipped file");
  return SkippedFile{fields.text("key"), fields.optional_text("version_id"), fields.text("reason")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const Combined& combined) {
  json = {{"outputs", list_json(combined.outputs)},
          {"empty_sources", list_json(combined.empty_sources)},
          {"skipped", list_json(combined.skipped)},
          {"files", combined.files()},
          {"bytes_in", combined.bytes_in()},
          {"bytes_out", combined.bytes_out()}};
}
Combined tag_invoke(const json::value_to_tag<Combined>&, const json::value& json) {
  const RecordFields fields(json, "what was combined");
  return Combined{fields.list<OutputRecord>("outputs"), fields.list<Source>("empty_sources"),
                  fields.list<SkippedFile>("skipped")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const Receipt& receipt) {
  json = json::value_from(receipt.combined);
  json::object& object = json.as_object();
  object["group_id"] = receipt.group_id;
  object["source_bucket"] = receipt.source_bucket;
  object["destination_bucket"] = receipt.destination_bucket;
  if (!receipt.date.empty()) object["date"] = receipt.date;
  if (!receipt.already_combined.empty())
    object["already_combined"] = list_json(receipt.already_combined);
}
Receipt tag_invoke(const json::value_to_tag<Receipt>&, const json::value& json) {
  const RecordFields fields(json, "the receipt");
  return Receipt{fields.text("group_id"),
                 fields.text("source_bucket"),
                 fields.text("destination_bucket"),
                 json::value_to<Combined>(json),
                 fields.list<AlreadyCombined>("already_combined", true),
                 fields.has("date") ? fields.date("date") : std::string()};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const ListingResult& result) {
  json = {{"run_id", result.run_id},
          {"date", result.date},
          {"groups", json::value_from(result.groups)},
          {"short_groups", json::value_from(result.short_groups)},
          {"long_groups", json::value_from(result.long_groups)},
          {"group_count", result.group_count},
          {"file_count", result.file_count},
          {"bytes", result.bytes},
          {"skipped_recent", result.skipped_recent}};
}
ListingResult tag_invoke(const json::value_to_tag<ListingResult>&, const json::value& json) {
  const RecordFields fields(json, "GetFiles' result");
  return ListingResult{run_id_of(fields.object()),
                       fields.date("date"),
                       fields.record<FileRef>("groups"),
                       fields.record<FileRef>("short_groups"),
                       fields.record<FileRef>("long_groups"),
                       optional_count(fields, "group_count"),
                       optional_count(fields, "file_count"),
                       optional_count(fields, "bytes"),
                       optional_count(fields, "skipped_recent")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const PlanResult& result) {
  json::object& object = json.emplace_object();
  object["group_id"] = result.group_id;
  object["run_id"] = result.run_id;
  object["operation"] = to_string(result.operation);
  if (result.plan) object["plan"] = json::value_from(*result.plan);
  object["outputs"] = result.outputs;
  object["files"] = result.files;
  object["bytes"] = result.bytes;
  object["already_combined"] = result.already_combined;
}
PlanResult tag_invoke(const json::value_to_tag<PlanResult>&, const json::value& json) {
  const RecordFields fields(json, "the plan's step");
  PlanResult result;
  result.group_id = fields.text("group_id");
  result.run_id = run_id_of(fields.object());
  if (fields.object().contains("operation"))
    result.operation = operation_of(fields, fields.text("operation"));
  if (fields.object().contains("plan")) result.plan = fields.record<FileRef>("plan");
  if (result.operation != Operation::kNone && !result.plan) fields.refuse("needs \"plan\"");
  result.outputs = optional_count(fields, "outputs");
  result.files = optional_count(fields, "files");
  result.bytes = optional_count(fields, "bytes");
  result.already_combined = optional_count(fields, "already_combined");
  return result;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const CombineResult& result) {
  json = {{"group_id", result.group_id},
          {"run_id", result.run_id},
          {"receipt", json::value_from(result.receipt)},
          {"already_combined", result.already_combined},
          {"outputs", result.outputs},
          {"files", result.files},
          {"skipped", result.skipped},
          {"bytes_in", result.bytes_in},
          {"bytes_out", result.bytes_out}};
}
CombineResult tag_invoke(const json::value_to_tag<CombineResult>&, const json::value& json) {
  const RecordFields fields(json, "the combine step's result");
  CombineResult result;
  result.group_id = fields.optional_text("group_id");
  if (fields.object().contains("run_id")) result.run_id = run_id_of(fields.object());
  result.receipt = fields.record<FileRef>("receipt");
  result.already_combined = optional_count(fields, "already_combined");
  result.outputs = optional_count(fields, "outputs");
  result.files = optional_count(fields, "files");
  result.skipped = optional_count(fields, "skipped");
  result.bytes_in = optional_count(fields, "bytes_in");
  result.bytes_out = optional_count(fields, "bytes_out");
  return result;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const DeleteResult& result) {
  json::object& object = json.emplace_object();
  object["group_id"] = result.group_id;
  object["deleted"] = result.deleted;
  object["kept_changed"] = result.kept_changed;
  object["failed"] = result.failed;
  if (result.failed_keys) object["failed_keys"] = json::value_from(*result.failed_keys);
}
DeleteResult tag_invoke(const json::value_to_tag<DeleteResult>&, const json::value& json) {
  const RecordFields fields(json, "the delete step's result");
  DeleteResult result{fields.text("group_id"), fields.count("deleted"),
                      fields.count("kept_changed"), fields.count("failed"), std::nullopt};
  if (fields.object().contains("failed_keys"))
    result.failed_keys = fields.record<FileRef>("failed_keys");
  return result;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const BackfillRequest& request) {
  json = {{"source", request.source}, {"from", request.from}, {"to", request.to}};
}
BackfillRequest tag_invoke(const json::value_to_tag<BackfillRequest>&, const json::value& json) {
  const RecordFields fields(json, "the backfill's request");
  return BackfillRequest{fields.text("source"), fields.text("from"), fields.text("to")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const BackfillPlan& plan) {
  json = {{"bucket", plan.bucket}, {"prefix", plan.prefix}, {"from", plan.from}, {"to", plan.to}};
}
BackfillPlan tag_invoke(const json::value_to_tag<BackfillPlan>&, const json::value& json) {
  const RecordFields fields(json, "the backfill's plan");
  return BackfillPlan{fields.text("bucket"), fields.text("prefix", true), fields.text("from"),
                      fields.text("to")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const ListedObject& item) {
  json::object& object = json.emplace_object();
  object["Key"] = item.key;
  object["Size"] = item.size;
  object["Etag"] = item.etag;
  object["LastModified"] = item.last_modified;
  if (!item.storage_class.empty()) object["StorageClass"] = item.storage_class;
}
ListedObject tag_invoke(const json::value_to_tag<ListedObject>&, const json::value& json) {
  const RecordFields fields(json, "a listed object");
  // Seconds since the epoch, and before 2200, as common::parse_s3_time bounds a time: a
  // system_clock time point counts nanoseconds in 64 bits.
  constexpr std::uint64_t kYear2200 = 7'258'118'400;
  const std::uint64_t modified = fields.count("LastModified");
  if (modified >= kYear2200) fields.refuse("needs \"LastModified\" before the year 2200");
  return ListedObject{fields.text("Key"), fields.count("Size"), fields.text("Etag"),
                      static_cast<std::int64_t>(modified), fields.optional_text("StorageClass")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const BackfillBatch& batch) {
  json = {{"BatchInput", json::value_from(batch.plan)}, {"Items", json::value_from(batch.items)}};
}
BackfillBatch tag_invoke(const json::value_to_tag<BackfillBatch>&, const json::value& json) {
  const RecordFields fields(json, "a backfill batch");
  return BackfillBatch{fields.record<BackfillPlan>("BatchInput"),
                       fields.list<ListedObject>("Items")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const BackfillResult& result) {
  json = {{"objects", result.objects},       {"lines", result.lines},
          {"batches", result.batches},       {"outside", result.outside},
          {"superseded", result.superseded}, {"poison", result.poison}};
}
BackfillResult tag_invoke(const json::value_to_tag<BackfillResult>&, const json::value& json) {
  const RecordFields fields(json, "a backfill batch's result");
  return BackfillResult{fields.count("objects"),    fields.count("lines"),
                        fields.count("batches"),    fields.count("outside"),
                        fields.count("superseded"), fields.count("poison")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AmplifyApp& app) {
  json::object& object = json.emplace_object();
  object["appId"] = app.app_id;
  object["domainName"] = app.domain_name;
  object["appName"] = app.app_name;
  object["region"] = app.region;
  object["accountId"] = app.account_id;
  if (!app.role_arn.empty()) object["roleArn"] = app.role_arn;
}
AmplifyApp tag_invoke(const json::value_to_tag<AmplifyApp>&, const json::value& json) {
  const RecordFields fields(json, "an Amplify app");
  fields.only({"appId", "domainName", "appName", "region", "accountId", "roleArn"});
  // GenerateAccessLogs' own constraints on appId and domainName.
  AmplifyApp app{
      fields.matching("appId", "d[a-z0-9]{1,19}", "an Amplify app id (d[a-z0-9]+)"),
      fields.matching("domainName",
                      "(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\\.)+"
                      "((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])(\\.)?",
                      "a domain name such as www.example.com", 64),
      fields.matching("appName", "[A-Za-z0-9][A-Za-z0-9._-]{0,62}",
                      "a folder name (letters, digits, '.', '_', '-'; at most 63)"),
      fields.matching("region", "[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+",
                      "a region code such as eu-west-1"),
      fields.matching("accountId", "[0-9]{12}", "a 12-digit account id"),
      fields.has("roleArn")
          ? fields.matching("roleArn", "arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]+",
                            "an IAM role ARN")
          : std::string()};
  return app;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const TimeRange& range) {
  json = {{"start", common::format_utc_seconds(range.start)},
          {"end", common::format_utc_seconds(range.end)}};
}
TimeRange tag_invoke(const json::value_to_tag<TimeRange>&, const json::value& json) {
  const RecordFields fields(json, "a time range");
  TimeRange range{fields.utc_seconds("start"), fields.utc_seconds("end")};
  if (range.start >= range.end) fields.refuse("needs \"start\" before \"end\"");
  return range;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AmplifyAppPlan& plan) {
  json = {{"app", json::value_from(plan.app)}, {"chunks", list_json(plan.chunks)}};
}
AmplifyAppPlan tag_invoke(const json::value_to_tag<AmplifyAppPlan>&, const json::value& json) {
  const RecordFields fields(json, "an app's export plan");
  return AmplifyAppPlan{fields.record<AmplifyApp>("app"), fields.list<TimeRange>("chunks")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AmplifyPlan& plan) {
  json = {{"from", common::format_utc_seconds(plan.from)},
          {"to", common::format_utc_seconds(plan.to)},
          {"apps", list_json(plan.apps)}};
}
AmplifyPlan tag_invoke(const json::value_to_tag<AmplifyPlan>&, const json::value& json) {
  const RecordFields fields(json, "the Amplify export's plan");
  return AmplifyPlan{fields.utc_seconds("from"), fields.utc_seconds("to"),
                     fields.list<AmplifyAppPlan>("apps")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AmplifyChunk& chunk) {
  json = {{"app", json::value_from(chunk.app)},
          {"start", common::format_utc_seconds(chunk.range.start)},
          {"end", common::format_utc_seconds(chunk.range.end)}};
}
AmplifyChunk tag_invoke(const json::value_to_tag<AmplifyChunk>&, const json::value& json) {
  const RecordFields fields(json, "an Amplify chunk");
  // The chunk's "start" and "end" are its time range's.
  return AmplifyChunk{fields.record<AmplifyApp>("app"), json::value_to<TimeRange>(json)};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const AmplifyExport& result) {
  json = {{"app", result.app},   {"key", result.key},       {"bytes", result.bytes},
          {"rows", result.rows}, {"ranges", result.ranges}, {"splits", result.splits}};
}
AmplifyExport tag_invoke(const json::value_to_tag<AmplifyExport>&, const json::value& json) {
  const RecordFields fields(json, "an Amplify chunk's export");
  return AmplifyExport{fields.text("app"),   fields.text("key"),     fields.count("bytes"),
                       fields.count("rows"), fields.count("ranges"), fields.count("splits")};
}

}  // namespace pipeline
