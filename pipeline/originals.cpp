#include "pipeline/originals.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <stdexcept>

#include "common/hashing.h"
#include "pipeline/layout.h"
#include "runtime/errors.h"

namespace pipeline {

namespace {

constexpr std::uint64_t kReadRangeBytes = 8ull << 20;  // an output is checked in these

std::string where(const OutputRecord& output) {
  return "s3://" + output.where.bucket + "/" + output.where.key;
}

common::GetOptions output_version(const OutputRecord& output, std::uint64_t first,
                                  std::uint64_t last) {
  common::GetOptions get;
  get.version_id = output.version_id;
  get.range = common::ByteRange{first, last};
  return get;
}

}  // namespace

OriginalsIndex OriginalsIndex::load(Ledger& ledger, SealChecker& checker,
                                    const std::vector<std::string>& dates, bool include_unsealed) {
  OriginalsIndex index;
  const std::vector<std::string> days = dates.empty() ? std::vector<std::string>{""} : dates;
  for (const auto& day : days) {
    auto scan = ledger.scan(checker, ledger_day_prefix(day));
    index.refused_.insert(index.refused_.end(), scan.refused.begin(), scan.refused.end());
    if (include_unsealed)
      scan.records.insert(scan.records.end(), scan.unsealed.begin(), scan.unsealed.end());
    for (const auto& output : scan.records) {
      ++index.outputs_;
      for (std::size_t i = 0; i < output->sources.size(); ++i) {
        index.by_original_.emplace(output->source_bucket + "\n" + output->sources[i].key,
                                   HeldOriginal{output, i});
      }
    }
  }
  return index;
}

std::vector<HeldOriginal> OriginalsIndex::find(const std::string& bucket, const std::string& key,
                                               const std::string& version_id) const {
  std::vector<HeldOriginal> found;
  const auto [first, last] = by_original_.equal_range(bucket + "\n" + key);
  for (auto it = first; it != last; ++it) {
    if (version_id.empty() || it->second.source().version_id == version_id)
      found.push_back(it->second);
  }
  std::reverse(found.begin(), found.end());
  return found;
}

bool etag_is_md5(const Source& source) {
  if (source.encryption.empty()) return common::etag_is_md5(source.etag, "");
  return common::etag_is_md5(source.etag, source.encryption == "none" ? "" : source.encryption);
}

std::string read_original(common::S3Client& s3, const HeldOriginal& held) {
  const OutputRecord& output = *held.output;
  const Source& source = held.source();
  if (output.offsets.empty()) {
    throw std::runtime_error(where(output) +
                             " was written before outputs kept an index: where the original lies "
                             "in it is not recorded");
  }
  if (const auto problem = output.index_problem())
    throw std::runtime_error("the index of " + where(output) + " is wrong: " + *problem);
  const std::uint64_t first = output.offsets[held.index];
  std::string bytes = source.size == 0
                          ? std::string()
                          : s3.get_object(output.where.bucket, output.where.key,
                                          output_version(output, first, first + source.size - 1));
  if (bytes.size() != source.size) {
    throw std::runtime_error(where(output) + " gave " + std::to_string(bytes.size()) +
                             " bytes, the original had " + std::to_string(source.size));
  }
  if (!output.sha256.empty() && common::sha256_hex(bytes) != output.sha256[held.index]) {
    throw std::runtime_error("the bytes of " + source.key + " in " + where(output) +
                             " do not have the SHA-256 its index records");
  }
  if (etag_is_md5(source) && "\"" + common::md5_hex(bytes) + "\"" != source.etag) {
    throw std::runtime_error("the bytes of " + source.key + " in " + where(output) +
                             " do not match the original's ETag " + source.etag);
  }
  return bytes;
}

Recovered read_from_any(common::S3Client& s3, const std::vector<HeldOriginal>& candidates) {
  Recovered recovered;
  recovered.outputs_gone = !candidates.empty();
  for (const auto& held : candidates) {
    try {
      recovered.bytes = read_original(s3, held);
      recovered.from = held;
      return recovered;
    } catch (const common::NoSuchKey&) {
      recovered.problems.push_back(where(*held.output) + " is gone");
      continue;
    } catch (const common::AwsError&) {
      throw;  // not an answer about the output: the caller cannot conclude anything
    } catch (const std::exception& error) {
      recovered.problems.emplace_back(error.what());
    }
    recovered.outputs_gone = false;
  }
  return recovered;
}

OutputRecord with_index(Ledger& ledger, SealChecker& checker, const OutputRecord& output) {
  if (!output.index) {
    throw runtime::VerificationFailed(where(output) +
                                      " has no index in the ledger: nothing vouches for it");
  }
  const FileRef& index = *output.index;
  if (index.bucket != ledger.work_bucket()) {
    throw runtime::VerificationFailed("the index of " + where(output) + " is in s3://" +
                                      index.bucket + ", not in the work bucket's ledger");
  }
  std::optional<OutputRecord> record;
  try {
    record = ledger.read(checker, index.key);
  } catch (const common::NoSuchKey&) {
    throw runtime::VerificationFailed("the index of " + where(output) + " (s3://" + index.bucket +
                                      "/" + index.key + ") is gone");
  }
  const bool fits =
      record->where.bucket == output.where.bucket && record->where.key == output.where.key &&
      record->where.size == output.where.size && record->where.etag == output.where.etag &&
      record->files() == output.files() && record->source_bytes() == output.source_bytes();
  if (!fits) {
    throw runtime::VerificationFailed("s3://" + index.bucket + "/" + index.key +
                                      " is not the index of " + where(output) +
                                      " its receipt describes");
  }
  record->version_id = output.version_id;  // known only once the output was completed
  return *record;
}

std::optional<std::string> content_problem(common::S3Client& s3, const OutputRecord& output) {
  if (output.sha256.empty()) return std::nullopt;
  if (auto problem = output.index_problem()) return "its index is wrong: " + *problem;
  const std::size_t count = output.sources.size();
  if (count == 0) return std::nullopt;
  const std::uint64_t end = output.offsets.back() + output.sources.back().size;
  std::size_t next = 0;  // the first original not wholly hashed yet
  common::Sha256 hash;
  common::Md5 md5;
  for (std::uint64_t start = 0; start < end && next < count; start += kReadRangeBytes) {
    const std::uint64_t stop = std::min(end, start + kReadRangeBytes);
    const std::string chunk = s3.get_object(output.where.bucket, output.where.key,
                                            output_version(output, start, stop - 1));
    if (chunk.size() != stop - start)
      return "it gave " + std::to_string(chunk.size()) + " bytes of a " +
             std::to_string(stop - start) + "-byte range: shorter than its index";
    while (next < count) {
      const std::uint64_t first = output.offsets[next];
      const std::uint64_t last = first + output.sources[next].size;  // one past
      if (first >= stop) break;
      const std::uint64_t from = std::max(first, start);
      const std::uint64_t to = std::min(last, stop);
      const Source& source = output.sources[next];
      const bool check_md5 = etag_is_md5(source);
      if (to > from) {
        const auto bytes = std::string_view(chunk).substr(from - start, to - from);
        hash.update(bytes);
        if (check_md5) md5.update(bytes);
      }
      if (last > stop) break;  // continues in the next range
      if (hash.hex_digest() != output.sha256[next])
        return source.key + " does not have the SHA-256 its index records";
      if (check_md5 && "\"" + md5.hex_digest() + "\"" != source.etag)
        return source.key + " does not have the MD5 S3 states as its ETag";
      ++next;
    }
  }
  return std::nullopt;
}

}  // namespace pipeline
