#include "pipeline/ledger.h"

#include <boost/json/value_from.hpp>

#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

OriginalId OriginalId::of(const Source& source) {
  const bool versioned = !source.version_id.empty() && source.version_id != "null";
  return {source.key, versioned ? "version " + source.version_id : "etag " + source.etag};
}

Ledger::Ledger(common::S3Client& s3, std::string work_bucket)
    : s3_(s3), work_bucket_(std::move(work_bucket)) {}

void Ledger::record(Sealer& sealer, const std::string& key, const OutputRecord& output) {
  write_sealed(s3_, sealer, work_bucket_, key, json::value_from(output).as_object());
}

std::pair<OutputRecord, std::optional<std::string>> Ledger::examine(SealChecker& checker,
                                                                    const std::string& key) {
  auto [record, problem] = read_unsealed(s3_, checker, work_bucket_, key);
  try {
    OutputRecord output = read_record<OutputRecord>(record);
    if (output.index) throw runtime::InvalidInput("a summary where a whole record belongs");
    return {std::move(output), std::move(problem)};
  } catch (const runtime::InvalidInput& invalid) {
    throw runtime::VerificationFailed("s3://" + work_bucket_ + "/" + key +
                                      " is not an output record: " + invalid.what());
  }
}

OutputRecord Ledger::read(SealChecker& checker, const std::string& key) {
  auto [output, problem] = examine(checker, key);
  if (problem) {
    throw runtime::VerificationFailed("s3://" + work_bucket_ + "/" + key +
                                      " is not trusted: " + *problem);
  }
  return output;
}

Ledger::Scan Ledger::scan(SealChecker& checker, const std::string& prefix) {
  Scan scan;
  for (const auto& entry : s3_.list_all(work_bucket_, prefix)) {
    try {
      auto [output, problem] = examine(checker, entry.key);
      auto record = std::make_shared<const OutputRecord>(std::move(output));
      if (!problem) {
        scan.records.push_back(std::move(record));
        continue;
      }
      scan.unsealed.push_back(std::move(record));
      scan.refused.push_back(entry.key + ": " + *problem);
    } catch (const runtime::VerificationFailed& error) {
      scan.refused.push_back(error.what());
    } catch (const common::NoSuchKey&) {
      // Expired between the listing and the read.
    }
  }
  return scan;
}

std::map<OriginalId, HeldOriginal> standing_originals(
    const std::vector<std::shared_ptr<const OutputRecord>>& records,
    const std::string& source_bucket, const std::function<bool(const OutputRef&)>& stands) {
  std::map<OriginalId, HeldOriginal> originals;
  for (const auto& record : records) {
    if (record->source_bucket != source_bucket || !stands(record->where)) continue;
    for (std::size_t i = 0; i < record->sources.size(); ++i)
      originals[OriginalId::of(record->sources[i])] = HeldOriginal{record, i};
  }
  return originals;
}

}  // namespace pipeline
