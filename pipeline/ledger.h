#pragma once
// The ledger of combined versions, in the work bucket under ledger/<date>/<group>/<run>/ (expiring
// with the outputs, not with the work files): before an output is completed, the output it is
// about to become (its key, size, multipart ETag, destination bucket, every source and where each
// lies in it) is written there, one sealed file per output (pipeline/seal.h). It is read
// - by the attempt that finds its own output key taken (adopted only if it is that record);
// - per group, by DetermineOperationType and DeleteOriginals: an original version inside an output
//   that stands as its record says goes straight to deletion, never into a second output;
// - per output, by DeleteOriginals: the index each original's bytes are checked against;
// - per day, by restore-original and validate-logs.
// A record without CombineLogFiles' seal for its place is passed over and reported: it decides
// nothing (records written before seals existed included: their originals stay until the day is
// run again).
#include <compare>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/s3.h"
#include "pipeline/layout.h"
#include "pipeline/records.h"
#include "pipeline/seal.h"

namespace pipeline {

// What identifies one original's bytes: the version in a versioned bucket, else key and ETag.
struct OriginalId {
  std::string key;
  std::string version;  // "version <id>" or "etag <etag>"
  static OriginalId of(const Source& source);
  auto operator<=>(const OriginalId&) const = default;
};

// An original as an output holds it: the output's record and the original's place in it.
struct HeldOriginal {
  std::shared_ptr<const OutputRecord> output;
  std::size_t index = 0;
  const Source& source() const { return output->sources[index]; }
};

class Ledger {
 public:
  Ledger(common::S3Client& s3, std::string work_bucket);
  const std::string& work_bucket() const { return work_bucket_; }

  // Writes the record of an output about to be completed, sealed for its key.
  void record(Sealer& sealer, const std::string& key, const OutputRecord& output);
  // The record at `key`, sealed for that key: VerificationFailed otherwise (NoSuchKey as S3
  // answers it).
  OutputRecord read(SealChecker& checker, const std::string& key);

  struct Scan {
    std::vector<std::shared_ptr<const OutputRecord>> records;
    // Output records without a valid seal (written before records were sealed, or by someone
    // else): they decide no deletion, but an original one names is not combined a second time.
    std::vector<std::shared_ptr<const OutputRecord>> unsealed;
    std::vector<std::string> refused;  // "<key>: why", every file that is no sealed record
  };
  // Every record under `prefix` (ledger_prefix: a group's; ledger_day_prefix: a day's).
  Scan scan(SealChecker& checker, const std::string& prefix);

 private:
  // The record at `key` and, when it is not sealed for that key, why not; VerificationFailed
  // when it is no output record at all.
  std::pair<OutputRecord, std::optional<std::string>> examine(SealChecker& checker,
                                                              const std::string& key);

  common::S3Client& s3_;
  std::string work_bucket_;
};

// The originals a group's scan places in outputs of `source_bucket` that still stand, by
// OriginalId, each where its output holds it. `stands` says whether an output is in the
// destination as its record says (a listing's or HEAD's size and ETag).
std::map<OriginalId, HeldOriginal> standing_originals(
    const std::vector<std::shared_ptr<const OutputRecord>>& records,
    const std::string& source_bucket, const std::function<bool(const OutputRef&)>& stands);

}  // namespace pipeline
