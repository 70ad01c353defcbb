#include "pipeline/ledger.h"

#include <boost/json/parse.hpp>

#include "pipeline/work_files.h"

namespace pipeline {

namespace json = boost::json;

std::string combined_identity(const Source& source) {
  return source.key + '\n' +
         (source.version_id.empty() ? "etag " + source.etag : source.version_id);
}

std::string ledger_prefix(const std::string& date, const std::string& group_id) {
  return "ledger/" + date + "/" + work_file_name(group_id) + "/";
}

std::string ledger_key(const std::string& prefix, const std::string& output_key) {
  return prefix + work_file_name(output_key) + ".json";
}

std::map<std::string, json::object> combined_sources(common::S3Client& s3,
                                                     const std::string& work_bucket,
                                                     const std::string& date,
                                                     const std::string& group_id) {
  std::map<std::string, json::object> combined;
  for (const auto& entry : s3.list_all(work_bucket, ledger_prefix(date, group_id))) {
    boost::system::error_code error;
    const json::value record = json::parse(s3.get_object(work_bucket, entry.key), error);
    const auto* output = record.if_object();
    if (error || output == nullptr || !output->contains("sources")) continue;  // not ours
    const json::object where{{"bucket", output->at("bucket")},
                             {"key", output->at("key")},
                             {"size", output->at("size")},
                             {"etag", output->at("etag")}};
    for (const auto& source : output->at("sources").as_array())
      combined[combined_identity(source_from_json(source, "a ledger source"))] = where;
  }
  return combined;
}

}  // namespace pipeline
