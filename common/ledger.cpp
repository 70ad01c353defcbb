#include "common/ledger.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/work_files.h"

namespace common {

namespace json = boost::json;

namespace {

std::string group_prefix(const std::string& date, const std::string& group_id) {
  return "ledger/" + date + "/" + work_file_name(group_id) + "/";
}

}  // namespace

std::string combined_identity(const Source& source) {
  return source.key + '\n' +
         (source.version_id.empty() ? "etag " + source.etag : source.version_id);
}

void record_combined(S3Client& s3, const std::string& work_bucket, const std::string& date,
                     const std::string& group_id, const std::string& run_id,
                     const json::object& receipt) {
  PutOptions put;
  put.content_type = "application/json";
  s3.put_object(work_bucket, group_prefix(date, group_id) + run_id + ".json",
                json::serialize(receipt), put);
}

std::map<std::string, json::object> combined_sources(S3Client& s3, const std::string& work_bucket,
                                                     const std::string& date,
                                                     const std::string& group_id) {
  std::map<std::string, json::object> combined;
  for (const auto& entry : s3.list_all(work_bucket, group_prefix(date, group_id))) {
    boost::system::error_code error;
    const json::value receipt = json::parse(s3.get_object(work_bucket, entry.key), error);
    const auto* outputs =
        receipt.is_object() ? receipt.get_object().if_contains("outputs") : nullptr;
    if (error || outputs == nullptr || !outputs->is_array()) continue;  // not ours: ignored
    const auto* bucket = receipt.get_object().if_contains("destination_bucket");
    for (const auto& output : outputs->get_array()) {
      const json::object where{{"bucket", bucket ? *bucket : json::value("")},
                               {"key", output.at("key")},
                               {"size", output.at("size")},
                               {"etag", output.at("etag")}};
      for (const auto& source : output.at("sources").as_array()) {
        combined[combined_identity(source_from_json(source, "a ledger source"))] = where;
      }
    }
  }
  return combined;
}

}  // namespace common
