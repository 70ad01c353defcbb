#pragma once
// Originals inside outputs, through each output's index (OutputRecord: offsets and digests): where
// an original now lives, its bytes cut back out, and whether an output still holds every original
// byte for byte. What restore-original, validate-logs and DeleteOriginals rely on.
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/s3.h"
#include "pipeline/records.h"

namespace pipeline {

// An original as an output holds it: the output's record and the original's place in it.
struct HeldOriginal {
  std::shared_ptr<const OutputRecord> output;
  std::size_t index = 0;
  const Source& source() const { return output->sources[index]; }
};

// The ledger's outputs for some days, searchable by original.
class OriginalsIndex {
 public:
  // Reads ledger/<date>/ of each day in `dates` (all of ledger/ when empty). Files that are not
  // output records are passed over.
  static OriginalsIndex load(common::S3Client& s3, const std::string& work_bucket,
                             const std::vector<std::string>& dates);

  // The outputs recorded as holding that version of the original (any version when none is
  // named), the last listed first. More than one: a version combined again after its output was
  // lost, or a record left by an attempt that never completed its output (whose key another
  // attempt may have taken since): only reading shows which still holds it.
  std::vector<HeldOriginal> find(const std::string& bucket, const std::string& key,
                                 const std::string& version_id = "") const;
  std::size_t outputs() const { return outputs_; }

 private:
  std::multimap<std::string, HeldOriginal> by_original_;  // "bucket\nkey"
  std::size_t outputs_ = 0;
};

// The original's bytes, cut from its output (the recorded version, else the current one) with one
// ranged GET, and checked against everything the index says of it: its size, the SHA-256 of its
// bytes where recorded, and its MD5 where its ETag is one. Throws std::runtime_error naming what
// differs (never the bytes).
std::string read_original(common::S3Client& s3, const HeldOriginal& held);

// The original's bytes from the first of `candidates` whose output still holds it as its index
// says; otherwise why each does not (nothing when there were no candidates).
struct Recovered {
  std::optional<std::string> bytes;
  std::optional<HeldOriginal> from;
  std::vector<std::string> problems;
  bool outputs_gone = false;  // every candidate's output is gone (NoSuchKey)
};
Recovered read_from_any(common::S3Client& s3, const std::vector<HeldOriginal>& candidates);

// The output with its index: a receipt's summary (OutputRecord::index) completed from the ledger
// record it points at, which must describe the same output (bucket, key, size, ETag) with as many
// originals of as many bytes; VerificationFailed otherwise. A whole record comes back as it is.
OutputRecord with_index(common::S3Client& s3, const OutputRecord& output);

// Reads an output once, in ranges, in bounded memory, hashing each original's range: why the
// output no longer holds every original as its index records it (an original whose bytes have
// another SHA-256, an output shorter than its index), or nullopt. An index without digests has
// nothing to compare: nullopt.
std::optional<std::string> content_problem(common::S3Client& s3, const OutputRecord& output);

}  // namespace pipeline
