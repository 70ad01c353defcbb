#include "pipeline/ledger.h"

#include <boost/json/parse.hpp>

#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

std::string combined_identity(const Source& source) {
  return source.key + '\n' +
         (source.version_id.empty() ? "etag " + source.etag : source.version_id);
}

std::map<std::string, OutputRef> combined_sources(common::S3Client& s3,
                                                  const std::string& work_bucket,
                                                  const std::string& date,
                                                  const std::string& group_id) {
  std::map<std::string, OutputRef> combined;
  for (const auto& entry : s3.list_all(work_bucket, ledger_prefix(date, group_id))) {
    boost::system::error_code error;
    const json::value parsed = json::parse(s3.get_object(work_bucket, entry.key), error);
    if (error) continue;  // not ours
    OutputRecord record;
    try {
      record = read_record<OutputRecord>(parsed);
    } catch (const runtime::InvalidInput&) {
      continue;  // not ours either
    }
    for (const auto& source : record.sources) combined[combined_identity(source)] = record.where;
  }
  return combined;
}

}  // namespace pipeline
