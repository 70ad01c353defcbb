#include "functions/crawler_trigger/handler.h"

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <map>
#include <set>

#include "common/settings.h"
#include "pipeline/layout.h"
#include "pipeline/record_fields.h"
#include "pipeline/records.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"

namespace functions::crawler_trigger {

namespace json = boost::json;

namespace {

constexpr std::size_t kPartitionsPerCall = 100;

std::string table_name(const std::string& prefix, const std::string& folder) {
  std::string name = prefix;
  for (char c : folder) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                               : '_');
  }
  return name;
}

json::value start_crawlers(const Config& config, common::GlueClient& glue) {
  json::array started;
  json::array already_running;
  for (const auto& crawler : config.crawlers) {
    try {
      glue.start_crawler(crawler);
      started.push_back(json::string(crawler));
    } catch (const common::CrawlerRunning&) {
      runtime::log::info("crawler already running: nothing to start", "crawler", crawler);
      already_running.push_back(json::string(crawler));
    }
  }
  return json::object{{"started", started}, {"already_running", already_running}};
}

struct Partition {
  std::vector<std::string> values;
  std::string location;
};

json::value add_partitions(const Config& config, common::GlueClient& glue, common::S3Client& s3,
                           const std::string& run_id) {
  // table folder -> partition folder -> partition
  std::map<std::string, std::map<std::string, Partition>> wanted;
  const std::string root = pipeline::destination_root(config.destination_prefix);
  for (const auto& object :
       s3.list_all(config.work_bucket, pipeline::run_folder(run_id, "receipts"))) {
    const auto receipt = pipeline::read_record<pipeline::Receipt>(
        pipeline::read_json(s3, pipeline::FileRef{config.work_bucket, object.key, 0, 0}));
    for (const auto& output : receipt.combined.outputs) {
      // Only the configured destination's folders are registered: a receipt names no location.
      if (output.where.bucket != config.destination_bucket) {
        runtime::log::warn("an output outside the destination bucket; not registered", "receipt",
                           object.key);
        continue;
      }
      const auto hive = pipeline::hive_partition_of(config.destination_prefix, output.where.key);
      if (!hive) continue;  // not in a partition folder
      wanted[hive->table_folder][hive->folder] =
          Partition{hive->values, "s3://" + config.destination_bucket + "/" + root + hive->folder};
    }
  }

  std::int64_t created = 0;
  std::int64_t existing = 0;
  json::array missing;
  for (const auto& [table_folder, partitions] : wanted) {
    const std::string table = table_name(config.table_prefix, table_folder);
    json::object descriptor;
    try {
      descriptor = glue.storage_descriptor(config.database, table);
    } catch (const common::ResourceNotFound&) {
      runtime::log::warn("no Glue table for these outputs; create it or run a crawler", "table",
                         table);
      missing.push_back(json::string(table));
      continue;
    }
    std::vector<json::object> inputs;
    for (const auto& [folder, partition] : partitions) {
      json::object storage = descriptor;
      storage["Location"] = partition.location;
      json::array values(partition.values.begin(), partition.values.end());
      inputs.push_back({{"Values", values}, {"StorageDescriptor", storage}});
    }
    for (std::size_t start = 0; start < inputs.size(); start += kPartitionsPerCall) {
      json::array batch(inputs.begin() + static_cast<std::ptrdiff_t>(start),
                        inputs.begin() + static_cast<std::ptrdiff_t>(
                                             std::min(inputs.size(), start + kPartitionsPerCall)));
      const auto errors = glue.batch_create_partition(config.database, table, batch);
      std::int64_t already = 0;
      for (const auto& error : errors) {
        if (error.code != "AlreadyExistsException")
          throw common::AwsError(error.code, error.message, "", 400, false);
        ++already;
      }
      existing += already;
      created += static_cast<std::int64_t>(batch.size()) - already;
    }
  }
  runtime::log::info("partitions registered", "created", created, "existing", existing, "tables",
                     wanted.size());
  return json::object{{"created", created},
                      {"existing", existing},
                      {"tables", wanted.size()},
                      {"missing_tables", missing}};
}

}  // namespace

// The columns people filter and group by, flattened where CloudTrail nests them; the partition
// values become columns (the Parquet table projects only the day).
constexpr const char* kParquetColumns =
    "eventtime, eventsource, eventname, awsregion, sourceipaddress, useragent, errorcode, "
    "errormessage, useridentity.type AS identity_type, useridentity.arn AS principal_arn, "
    "useridentity.accountid AS principal_account, requestparameters, responseelements, "
    "resources, recipientaccountid, readonly, eventid, eventtype, account, region";

namespace {

void need_parquet_settings(const Config& config) {
  if (config.destination_bucket.empty() || config.database.empty()) {
    throw runtime::ConfigurationError(
        "DESTINATION_BUCKET and GLUE_DATABASE are needed to convert to Parquet");
  }
}

// Empties a Parquet folder before Athena writes it again: UNLOAD writes only into an empty
// folder, and leaves what a failed attempt wrote.
std::size_t empty_folder(const Config& config, common::S3Client& s3, const std::string& folder) {
  std::vector<common::ObjectId> stale;
  for (const auto& object : s3.list_all(config.destination_bucket, folder))
    stale.push_back(common::ObjectId{object.key, ""});
  const auto deleted = s3.delete_objects(config.destination_bucket, stale);
  if (!deleted.errors.empty()) {
    throw runtime::Error(runtime::error_type::kTransientError,
                         std::to_string(deleted.errors.size()) + " of the Parquet files in " +
                             folder + " could not be deleted: " + deleted.errors.front().message);
  }
  runtime::log::info("the Parquet folder is empty", "folder", folder, "deleted",
                     deleted.deleted.size());
  return deleted.deleted.size();
}

std::string unload(const Config& config, const std::string& select, const std::string& folder) {
  return "UNLOAD (" + select + ") TO 's3://" + config.destination_bucket + "/" + folder +
         "' WITH (format = 'PARQUET', compression = 'SNAPPY')";
}

std::string table_name(const Config& config, const std::string& table) {
  return "\"" + config.database + "\".\"" + config.table_prefix + table + "\"";
}

// `text` as a LIKE pattern matching itself, with '\' as the escape character.
std::string like_literal(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

}  // namespace

json::value clear_parquet_day(const Config& config, common::S3Client& s3,
                              const json::object& event) {
  const pipeline::RecordFields fields(event, "the clear_parquet_day event");
  const std::string date = fields.date("date");
  need_parquet_settings(config);
  const std::string folder = pipeline::parquet_day_folder(config.destination_prefix,
                                                          config.table_prefix + "cloudtrail", date);
  const auto cleared = empty_folder(config, s3, folder);
  const std::string select = std::string("SELECT ") + kParquetColumns + " FROM " +
                             table_name(config, "cloudtrail") + " WHERE date = '" + date + "'";
  return json::object{
      {"date", date}, {"cleared", cleared}, {"query", unload(config, select, folder)}};
}

json::value clear_parquet_batch(const Config& config, common::S3Client& s3,
                                const json::object& event) {
  const pipeline::RecordFields fields(event, "the clear_parquet_batch event");
  const std::string date = fields.date("date");
  const std::string bucket = fields.text("bucket");
  if (!common::valid_bucket_name(bucket))
    fields.refuse("needs \"bucket\" a bucket name S3 allows, not '" + bucket + "'");
  const std::string manifest_id = pipeline::id_field(event, "manifest_id");
  need_parquet_settings(config);
  const std::string folder = pipeline::parquet_batch_folder(
      config.destination_prefix, config.table_prefix + "other_logs", bucket, date, manifest_id);
  const auto cleared = empty_folder(config, s3, folder);
  // The batch's own outputs (key_base-NNNN), out of the day's lines of its bucket.
  const std::string outputs =
      "s3://" + config.destination_bucket + "/" +
      pipeline::manifest_key_base(config.destination_prefix, bucket, date, manifest_id) + "-";
  const std::string select = "SELECT line FROM " + table_name(config, "other_logs") +
                             " WHERE bucket = '" + bucket + "' AND date = '" + date +
                             "' AND \"$path\" LIKE '" + like_literal(outputs) + "%' ESCAPE '\\'";
  return json::object{{"manifest_id", manifest_id},
                      {"cleared", cleared},
                      {"query", unload(config, select, folder)}};
}

Config Config::from_environment() {
  Config config;
  const std::string mode = common::setting("CRAWLER_MODE");
  if (!mode.empty()) config.mode = mode;
  if (config.mode != "crawler" && config.mode != "partitions" && config.mode != "projection") {
    throw runtime::ConfigurationError(
        "CRAWLER_MODE must be crawler, partitions or projection, not '" + mode + "'");
  }
  config.crawlers = common::list_setting("CRAWLER_NAMES");
  config.work_bucket = common::setting("WORK_BUCKET");
  config.destination_prefix = common::setting("DESTINATION_PREFIX", config.destination_prefix);
  config.database = common::setting("GLUE_DATABASE");
  config.table_prefix = common::setting("GLUE_TABLE_PREFIX");
  config.destination_bucket = common::setting("DESTINATION_BUCKET");
  if (config.mode == "crawler" && config.crawlers.empty()) {
    throw runtime::ConfigurationError("CRAWLER_NAMES is required in crawler mode");
  }
  if (config.mode == "partitions" && (config.work_bucket.empty() || config.database.empty() ||
                                      config.destination_bucket.empty())) {
    throw runtime::ConfigurationError(
        "WORK_BUCKET, DESTINATION_BUCKET and GLUE_DATABASE are required in partitions mode");
  }
  return config;
}

json::value handle(const Config& config, common::GlueClient& glue, common::S3Client& s3,
                   const json::value& event) {
  if (const auto* object = event.if_object(); object != nullptr && object->contains("action")) {
    const pipeline::RecordFields fields(*object, "the event");
    const std::string action = fields.text("action");
    if (action == "clear_parquet_day") return clear_parquet_day(config, s3, *object);
    if (action == "clear_parquet_batch") return clear_parquet_batch(config, s3, *object);
    throw runtime::InvalidInput("the actions are clear_parquet_day and clear_parquet_batch, not '" +
                                action + "'");
  }
  if (config.mode == "crawler") return start_crawlers(config, glue);
  // The tables project their partitions from the layout: Athena finds each day's by itself.
  if (config.mode == "projection") return json::object{{"mode", "projection"}, {"registered", 0}};
  const auto* input = event.if_object();
  if (input == nullptr) throw runtime::InvalidInput("partitions mode needs the run's \"run_id\"");
  return add_partitions(config, glue, s3, pipeline::run_id_of(*input));
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto glue = std::make_shared<common::GlueClient>();
  auto s3 = std::make_shared<common::S3Client>();
  return [config, glue, s3](const json::value& event, const runtime::InvocationContext&) {
    return handle(*config, *glue, *s3, event);
  };
}

}  // namespace functions::crawler_trigger
