#include "functions/manifest_builder/handler.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "common/errors.h"
#include "common/settings.h"
#include "common/sigv4.h"
#include "pipeline/layout.h"
#include "pipeline/record_fields.h"
#include "pipeline/work_files.h"
#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::manifest_builder {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

namespace {

constexpr std::size_t kFilesPerClaim = common::kMaxTransactItems - 1;  // + the manifest item
constexpr int kClaimAttempts = 3;  // transactions conflicting without a failed condition

json::object s(const std::string& text) {
  return {{"S", text}};
}
json::object n(std::int64_t number) {
  return {{"N", std::to_string(number)}};
}
std::int64_t epoch_s(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}
// A string ("S") or number ("N") attribute of a ledger item, as text; "" when it has none.
std::string attribute(const json::object& item, const char* name) {
  const auto* value = item.if_contains(name);
  if (value == nullptr || !value->is_object()) return {};
  for (const char* type : {"S", "N"}) {
    const auto* typed = value->get_object().if_contains(type);
    if (typed != nullptr && typed->is_string()) return std::string(typed->get_string());
  }
  return {};
}

// A number attribute of a ledger item; an item without it was not written by this function.
std::int64_t number_attribute(const json::object& item, const char* name) {
  const std::string text = attribute(item, name);
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw common::AwsError("MalformedItem",
                           "a ledger item has no number \"" + std::string(name) + "\"", "", 200,
                           false);
  }
  return number;
}

// A partition of the ledger: one source bucket's files of one day.
struct Partition {
  std::string bucket;
  common::Date date;
  std::string id() const { return bucket + "#" + date.iso(); }
  auto operator<=>(const Partition&) const = default;
};

std::optional<Partition> partition_from_id(const std::string& id) {
  const auto hash = id.rfind('#');
  if (hash == std::string::npos) return std::nullopt;
  const auto date = common::Date::parse(std::string_view(id).substr(hash + 1));
  if (!date) return std::nullopt;
  return Partition{id.substr(0, hash), *date};
}

using pipeline::RecordFields;

bool wanted(const Config& config, const std::string& key) {
  auto any = [&](const std::vector<std::string>& patterns, bool prefix) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
      return prefix ? key.starts_with(pattern) : key.ends_with(pattern);
    });
  };
  if (!config.include_prefixes.empty() && !any(config.include_prefixes, true)) return false;
  if (!config.include_suffixes.empty() && !any(config.include_suffixes, false)) return false;
  return !any(config.exclude_prefixes, true) && !any(config.exclude_suffixes, false);
}

std::string new_manifest_id(const common::Date& date) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(generator()));
  return date.iso() + "-" + suffix;
}

// The DynamoDB table of notified files (LEDGER_TABLE, the template's LedgerTable: its name kept,
// as renaming a table replaces it) and the manifests cut from them; not the ledger of combined
// versions (pipeline/ledger.h). Its sort keys keep the form they were first written in (key, then
// the version or else the ETag): another form would record a file notified twice as two.
class FileTable {
 public:
  FileTable(const Config& config, Clients clients, Clock::time_point now)
      : config_(config), clients_(clients), now_(now) {}

  // True when this is the first time the file is recorded. A file is one version of a key: a key
  // written twice in a day is two originals (its version id, or else its etag, tells them apart),
  // while the same notification delivered twice is one.
  bool record(const CreatedObject& object) {
    const std::string identity = object.version_id.empty() ? object.etag : object.version_id;
    json::object item{{"pk", s("F#" + Partition{object.bucket, object.date}.id())},
                      {"sk", s(object.key + '\n' + identity)},
                      {"key", s(object.key)},
                      {"size", n(static_cast<std::int64_t>(object.size))},
                      {"etag", s(object.etag.empty() ? std::string("-") : object.etag)},
                      {"received_at", n(runtime::epoch_ms(now_))},
                      {"expires_at", n(expires_at())}};
    if (!object.version_id.empty()) item["version_id"] = s(object.version_id);
    if (object.size == 0) {
      item["state"] = s("EMPTY");  // nothing to combine: never waits in a manifest
    } else {
      item["state"] = s("PENDING");
      item["open_pk"] = s("P#" + Partition{object.bucket, object.date}.id());
      char order[24];
      std::snprintf(order, sizeof order, "%013lld#",
                    static_cast<long long>(runtime::epoch_ms(now_)));
      item["open_sk"] = s(order + object.key);
    }
    try {
      clients_.dynamodb.put_item(config_.table, item,
                                 common::Condition{"attribute_not_exists(pk)", {}, {}, false});
      return true;
    } catch (const common::ConditionalCheckFailed&) {
      return false;  // recorded before: whatever its state, it stays
    }
  }

  void touch(const Partition& partition) {
    clients_.dynamodb.update_item(
        config_.table, {{"pk", s("PARTITIONS")}, {"sk", s(partition.id())}},
        "SET expires_at = :expires, seen_at = :now",
        common::Condition{
            "", {}, {{":expires", n(expires_at())}, {":now", n(runtime::epoch_ms(now_))}}});
  }

  std::vector<Partition> partitions() {
    common::QueryInput query;
    query.table = config_.table;
    query.key_condition = "pk = :pk";
    query.values = {{":pk", s("PARTITIONS")}};
    std::vector<Partition> found;
    for (const auto& item : clients_.dynamodb.query_all(query)) {
      if (auto partition = partition_from_id(attribute(item, "sk"))) found.push_back(*partition);
    }
    return found;
  }

  // Pending files of a partition, oldest first (the index is eventually consistent: claims
  // check the state again).
  std::vector<json::object> pending(const Partition& partition, std::size_t limit) {
    common::QueryInput query;
    query.table = config_.table;
    query.index = "open";
    query.key_condition = "open_pk = :open";
    query.values = {{":open", s("P#" + partition.id())}};
    query.limit = static_cast<int>(std::min<std::size_t>(limit, 1000));
    std::vector<json::object> files;
    clients_.dynamodb.query(query, [&](std::vector<json::object>& page) {
      for (auto& item : page) {
        if (files.size() == limit) break;
        files.push_back(std::move(item));
      }
      return files.size() < limit;
    });
    return files;
  }

  // Cuts manifests while at least `minimum` files are pending; returns how many it started.
  int cut(const Partition& partition, std::size_t minimum) {
    int started = 0;
    while (true) {
      auto files = pending(partition, config_.manifest_size);
      if (files.empty() || files.size() < minimum) return started;
      if (cut_one(partition, files)) ++started;
    }
  }

  // Manifests whose files were claimed but whose execution was not started in SWEEP_AFTER_S.
  int sweep(const Partition& partition) {
    common::QueryInput query;
    query.table = config_.table;
    query.index = "open";
    query.key_condition = "open_pk = :open";
    query.values = {{":open", s("U#" + partition.id())}};
    int started = 0;
    for (const auto& listed : clients_.dynamodb.query_all(query)) {
      const auto created = number_attribute(listed, "created_at");
      if (created > runtime::epoch_ms(now_ - config_.sweep_after))
        continue;  // a builder may be on it
      const auto item = clients_.dynamodb.get_item(
          config_.table, {{"pk", s("M#" + partition.id())}, {"sk", listed.at("sk")}});
      if (!item || !item->contains("open_pk")) continue;
      runtime::log::warn("starting a manifest a builder claimed but never started", "manifest",
                         attribute(*item, "sk"));
      if (start(partition, *item)) ++started;
    }
    return started;
  }

  std::int64_t oldest_pending_ms(const Partition& partition) {
    const auto files = pending(partition, 1);
    if (files.empty()) return -1;
    return number_attribute(files.front(), "received_at");
  }

 private:
  std::int64_t expires_at() const {
    return epoch_s(now_ + std::chrono::duration_cast<std::chrono::seconds>(config_.ttl));
  }

  json::object manifest_key(const Partition& partition, const std::string& id) const {
    return {{"pk", s("M#" + partition.id())}, {"sk", s(id)}};
  }

  // Claims what it can of `files` for a new manifest and starts it. False when another builder
  // had claimed them all.
  bool cut_one(const Partition& partition, const std::vector<json::object>& files) {
    const std::string id = new_manifest_id(partition.date);
    const auto key = manifest_key(partition, id);
    json::object manifest = key;
    manifest["state"] = s("CLAIMING");
    manifest["files"] = json::object{{"L", json::array{}}};
    manifest["file_count"] = n(0);
    manifest["bytes"] = n(0);
    manifest["created_at"] = n(runtime::epoch_ms(now_));
    manifest["expires_at"] = n(expires_at());
    manifest["open_pk"] = s("U#" + partition.id());
    manifest["open_sk"] = s(id);
    clients_.dynamodb.put_item(config_.table, manifest,
                               common::Condition{"attribute_not_exists(pk)", {}, {}, false});

    std::size_t claimed = 0;
    for (std::size_t start = 0; start < files.size(); start += kFilesPerClaim) {
      const std::vector<json::object> chunk(
          files.begin() + static_cast<std::ptrdiff_t>(start),
          files.begin() +
              static_cast<std::ptrdiff_t>(std::min(files.size(), start + kFilesPerClaim)));
      claimed += claim_untaken(key, id, chunk);
    }
    if (claimed == 0) {
      forget_empty(key);
      return false;
    }
    const auto item = clients_.dynamodb.get_item(config_.table, key);
    if (!item)
      throw runtime::Error(runtime::error_type::kConflictError,
                           "manifest " + id + " vanished after its claims");
    return start(partition, *item);
  }

  // A manifest that claimed nothing (claims and its list are written together, so an empty
  // list means no file names it) is dropped.
  void forget_empty(const json::object& key) {
    try {
      clients_.dynamodb.raw().call("DeleteItem",
                                   {{"TableName", config_.table},
                                    {"Key", key},
                                    {"ConditionExpression", "file_count = :zero"},
                                    {"ExpressionAttributeValues", json::object{{":zero", n(0)}}}});
    } catch (const common::ConditionalCheckFailed&) {
    }
  }

  // Claims what another builder has not already taken of `files`; returns how many. DynamoDB
  // says which items' conditions failed: those are dropped and the rest tried again, so a race
  // costs one more transaction rather than one per file.
  std::size_t claim_untaken(const json::object& manifest, const std::string& id,
                            std::vector<json::object> files) {
    for (int attempt = 1; !files.empty(); ++attempt) {
      try {
        claim(manifest, id, files);
        return files.size();
      } catch (const common::TransactionCanceled& canceled) {
        if (canceled.reasons.size() != files.size() + 1) {
          // No reasons to go by: one file at a time, each with the manifest's list.
          std::size_t claimed = 0;
          for (const auto& file : files) {
            try {
              claim(manifest, id, {file});
              ++claimed;
            } catch (const common::TransactionCanceled&) {
            }
          }
          return claimed;
        }
        if (canceled.reasons.back() == "ConditionalCheckFailed") return 0;  // manifest closed
        std::vector<json::object> untaken;
        for (std::size_t i = 0; i < files.size(); ++i) {
          if (canceled.reasons[i] != "ConditionalCheckFailed") untaken.push_back(files[i]);
        }
        // None failed its condition (a transaction in flight on one of them): try again, a few
        // times; what is left stays pending for the next cut, what was claimed for the sweep.
        if (untaken.size() == files.size() && attempt >= kClaimAttempts) throw;
        files = std::move(untaken);
      }
    }
    return 0;
  }

  void claim(const json::object& manifest, const std::string& id,
             const std::vector<json::object>& files) {
    json::array items;
    json::array listed;
    std::int64_t bytes = 0;
    for (const auto& file : files) {
      items.push_back(json::object{
          {"Update",
           json::object{{"TableName", config_.table},
                        {"Key", json::object{{"pk", file.at("pk")}, {"sk", file.at("sk")}}},
                        {"UpdateExpression",
                         "SET #state = :claimed, manifest_id = :id REMOVE open_pk, open_sk"},
                        {"ConditionExpression", "#state = :pending"},
                        {"ExpressionAttributeNames", json::object{{"#state", "state"}}},
                        {"ExpressionAttributeValues", json::object{{":claimed", s("CLAIMED")},
                                                                   {":pending", s("PENDING")},
                                                                   {":id", s(id)}}}}}});
      // Items recorded before files were keyed by version have the key as their sort key.
      json::object entry{{"key", file.contains("key") ? file.at("key") : file.at("sk")},
                         {"ledger_sk", file.at("sk")},
                         {"size", file.at("size")},
                         {"etag", file.at("etag")}};
      if (file.contains("version_id")) entry["version_id"] = file.at("version_id");
      listed.push_back(json::object{{"M", std::move(entry)}});
      bytes += number_attribute(file, "size");
    }
    items.push_back(json::object{
        {"Update",
         json::object{{"TableName", config_.table},
                      {"Key", manifest},
                      {"UpdateExpression",
                       "SET files = list_append(files, :files), file_count = file_count + :count, "
                       "bytes = bytes + :bytes"},
                      {"ConditionExpression", "attribute_exists(open_pk)"},
                      {"ExpressionAttributeValues",
                       json::object{{":files", json::object{{"L", std::move(listed)}}},
                                    {":count", n(static_cast<std::int64_t>(files.size()))},
                                    {":bytes", n(bytes)}}}}}});
    clients_.dynamodb.transact_write(items);
  }

  // Writes the manifest file and starts its execution, named after the manifest: however often
  // this runs for a manifest (a retry, the sweep), there is one execution.
  bool start(const Partition& partition, const json::object& item) {
    const std::string id = attribute(item, "sk");
    json::array sources;
    std::int64_t bytes = 0;
    for (const auto& value : item.at("files").at("L").as_array()) {
      const auto& entry = value.at("M").as_object();
      // ledger_sk: the file's item in the ledger, which process_manifest marks COMPLETED.
      json::object source{{"key", attribute(entry, "key")},
                          {"ledger_sk", entry.contains("ledger_sk") ? attribute(entry, "ledger_sk")
                                                                    : attribute(entry, "key")},
                          {"size", number_attribute(entry, "size")},
                          {"etag", attribute(entry, "etag")}};
      if (entry.contains("version_id")) source["version_id"] = attribute(entry, "version_id");
      bytes += source.at("size").as_int64();
      sources.push_back(std::move(source));
    }
    if (sources.empty()) {
      forget_empty(manifest_key(partition, id));
      return false;
    }
    const auto manifest =
        pipeline::write_json_array(clients_.s3, config_.work_bucket,
                                   pipeline::run_file_key(id, "manifest.json"), sources, bytes);
    const json::object input{{"manifest_id", id},
                             {"source_bucket", partition.bucket},
                             {"date", partition.date.iso()},
                             {"manifest", manifest.to_json()},
                             {"ledger_pk", "M#" + partition.id()},
                             {"files_pk", "F#" + partition.id()}};
    std::string execution_arn;
    try {
      execution_arn = clients_.stepfunctions
                          .start_execution(config_.state_machine_arn, id, json::serialize(input))
                          .execution_arn;
    } catch (const common::ExecutionAlreadyExists&) {
      // Started before (and finished, or with other input): that execution is this manifest's.
      execution_arn = config_.state_machine_arn;
      execution_arn.replace(execution_arn.find(":stateMachine:"), 14, ":execution:");
      execution_arn += ":" + id;
    }
    // The state stays as it is: process_manifest may already have marked it COMPLETED.
    clients_.dynamodb.update_item(config_.table, manifest_key(partition, id),
                                  "SET execution_arn = :arn REMOVE open_pk, open_sk",
                                  common::Condition{"", {}, {{":arn", s(execution_arn)}}});
    runtime::log::info("manifest started", "manifest", id, "files", sources.size(), "bytes", bytes);
    return true;
  }

  const Config& config_;
  Clients clients_;
  Clock::time_point now_;
};

json::value handle_records(const Config& config, Clients clients, const json::array& records,
                           Clock::time_point now) {
  FileTable files(config, clients, now);
  json::array failures;
  std::set<Partition> touched;
  std::int64_t recorded = 0, duplicates = 0, filtered = 0, refused = 0;
  for (const auto& value : records) {
    // Read leniently: without its id a record cannot be named in the failures.
    const auto* id = value.is_object() ? value.get_object().if_contains("messageId") : nullptr;
    const std::string message_id = id && id->is_string() ? std::string(id->get_string()) : "";
    try {
      if (message_id.empty()) throw runtime::InvalidInput("an SQS record needs a messageId");
      const RecordFields record(value, "an SQS record");
      for (const auto& object : pipeline::objects_of_message(record.text("body", true))) {
        if (std::find(config.batching_buckets.begin(), config.batching_buckets.end(),
                      object.bucket) == config.batching_buckets.end()) {
          ++refused;
          runtime::log::warn("a notification for a bucket that is not batched; not recorded",
                             "bucket", object.bucket);
          continue;
        }
        if (!wanted(config, object.key)) {
          ++filtered;
          continue;
        }
        // The partition is listed before its file, so flush and sweep always find it.
        const Partition partition{object.bucket, object.date};
        // Taken as touched only once touch() succeeded: a failed touch fails this record, and the
        // next file of the partition touches it again.
        if (object.size > 0 && !touched.contains(partition)) {
          files.touch(partition);
          touched.insert(partition);
        }
        if (files.record(object)) {
          ++recorded;
        } else {
          ++duplicates;
        }
      }
    } catch (const std::exception& error) {
      // Only this record goes back to the queue (and, after maxReceiveCount, to the DLQ); the
      // message itself is not logged: it may carry what the logs must not.
      runtime::log::error("record not taken", "messageId", message_id, "error", error.what());
      if (!message_id.empty())
        failures.push_back(json::object{{"itemIdentifier", message_id}});
      else
        throw;  // without an id SQS cannot be told which one: fail the batch
    }
  }
  // The records are in the ledger: a failure from here on is not theirs to carry (a redelivery
  // would change nothing). What is left pending is cut by the next batch or the flush; a
  // manifest claimed but not started is started by the sweep.
  int started = 0;
  for (const auto& partition : touched) {
    try {
      started += files.cut(partition, config.manifest_size);
    } catch (const std::exception& error) {
      runtime::log::warn("manifest not cut now; flush and sweep will", "partition", partition.id(),
                         "error", error.what());
    }
  }
  runtime::metrics::add("FilesRecorded", runtime::metrics::Unit::Count,
                        static_cast<double>(recorded));
  runtime::metrics::add("ManifestsStarted", runtime::metrics::Unit::Count, started);
  runtime::metrics::add("NotificationsRefused", runtime::metrics::Unit::Count,
                        static_cast<double>(refused));
  runtime::log::info("batch", "records", records.size(), "recorded", recorded, "duplicates",
                     duplicates, "filtered", filtered, "refused", refused, "failed",
                     failures.size(), "manifests", started);
  return json::object{{"batchItemFailures", std::move(failures)}};
}

json::value handle_schedule(const Config& config, Clients clients, const std::string& action,
                            Clock::time_point now) {
  FileTable files(config, clients, now);
  const auto today = common::Date::from_time_point(now);
  int started = 0;
  for (const auto& partition : files.partitions()) {
    if (action == "sweep") {
      started += files.sweep(partition);
      continue;
    }
    const bool day_over = partition.date < today;
    const auto oldest = files.oldest_pending_ms(partition);
    const bool too_old =
        oldest >= 0 && oldest <= runtime::epoch_ms(now) - config.max_age.count() * 1000;
    if (oldest >= 0 && (day_over || too_old)) started += files.cut(partition, 1);
  }
  runtime::log::info(action == "sweep" ? "swept" : "flushed", "manifests", started);
  return json::object{{"action", action}, {"manifests_started", started}};
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.table = common::required_setting("LEDGER_TABLE");
  config.work_bucket = common::required_setting("WORK_BUCKET");
  config.state_machine_arn = common::required_setting("STATE_MACHINE_ARN");
  config.manifest_size = common::number_setting("MANIFEST_SIZE", config.manifest_size);
  config.max_age = std::chrono::seconds(common::number_setting("MAX_AGE_S", 900));
  config.sweep_after = std::chrono::seconds(common::number_setting("SWEEP_AFTER_S", 300, 0));
  config.ttl = std::chrono::hours(24 * common::number_setting("TTL_DAYS", 30));
  config.batching_buckets = common::list_setting("BATCHING_BUCKETS");
  if (config.batching_buckets.empty())
    throw runtime::ConfigurationError("BATCHING_BUCKETS names no bucket: nothing would be batched");
  config.include_prefixes = common::list_setting("INCLUDE_PREFIXES");
  config.exclude_prefixes = common::list_setting("EXCLUDE_PREFIXES");
  config.include_suffixes = common::list_setting("INCLUDE_SUFFIXES");
  config.exclude_suffixes = common::list_setting("EXCLUDE_SUFFIXES");
  return config;
}

json::value handle(const Config& config, Clients clients, const json::value& event,
                   Clock::time_point now) {
  const auto* input = event.if_object();
  if (input == nullptr) throw runtime::InvalidInput("the event must be a JSON object");
  if (const auto* records = input->if_contains("Records"); records && records->is_array())
    return handle_records(config, clients, records->get_array(), now);
  const std::string action = RecordFields(*input, "the event").optional_text("action");
  if (action == "flush" || action == "sweep") {
    // The schedule's time (Scheduler's <aws.scheduler.scheduled-time>): a retried or replayed
    // flush decides what is over and what is old as the scheduled one would.
    if (const auto* time = input->if_contains("time")) {
      const auto scheduled =
          time->is_string() ? common::parse_s3_time(time->get_string()) : std::nullopt;
      if (!scheduled)
        throw runtime::InvalidInput(
            "\"time\" must be an RFC 3339 time such as 2026-11-23T01:05:00Z");
      now = *scheduled;
    }
    return handle_schedule(config, clients, action, now);
  }
  throw runtime::InvalidInput(
      "expected an SQS batch (\"Records\") or {\"action\": \"flush\" | \"sweep\"}");
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto dynamodb = std::make_shared<common::DynamoDbClient>();
  auto s3 = std::make_shared<common::S3Client>();
  auto stepfunctions = std::make_shared<common::StepFunctionsClient>();
  return [=](const json::value& event, const runtime::InvocationContext&) {
    return handle(*config, Clients{*dynamodb, *s3, *stepfunctions}, event, Clock::now());
  };
}

}  // namespace functions::manifest_builder
