#include "pipeline/plan_files.h"

#include <boost/json/serialize.hpp>
#include "pipeline/layout.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace pipeline {

FileRef write_plan(common::S3Client& s3, const std::string& bucket, const std::string& key,
                   Plan plan, std::size_t concurrency) {
  std::uint64_t bytes = 0;
  std::vector<JsonlFile> files;
  for (std::size_t i = 0; i < plan.outputs.size(); ++i) {
    PlannedOutput& output = plan.outputs[i];
    JsonlFile file{planned_sources_key(key, i + 1), {}, static_cast<std::int64_t>(output.bytes)};
    file.items.reserve(output.sources.size());
    for (const auto& source : output.sources)
      file.items.push_back(boost::json::value_from(source).as_object());
    files.push_back(std::move(file));
    output.sources.clear();
    bytes += output.bytes;
  }
  // The sources first: a plan never names a file that is not there yet.
  const auto written = write_jsonl_files(s3, bucket, std::move(files), concurrency);
  for (std::size_t i = 0; i < plan.outputs.size(); ++i) plan.outputs[i].sources_file = written[i];
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(bucket, key, boost::json::serialize(boost::json::value_from(plan)), put);
  return FileRef{bucket, key, static_cast<std::int64_t>(plan.outputs.size()),
                 static_cast<std::int64_t>(bytes)};
}

std::vector<Source> planned_sources(common::S3Client& s3, const PlannedOutput& output) {
  if (!output.sources_file) return output.sources;
  std::vector<Source> sources;
  for (const auto& line : read_jsonl(s3, *output.sources_file))
    sources.push_back(read_record<Source>(line));
  if (sources.size() != static_cast<std::size_t>(output.sources_file->count)) {
    throw runtime::InvalidInput("s3://" + output.sources_file->bucket + "/" +
                                output.sources_file->key + " holds " +
                                std::to_string(sources.size()) + " sources of " + output.key_base +
                                ", the plan says " + std::to_string(output.sources_file->count));
  }
  return sources;
}

}  // namespace pipeline
