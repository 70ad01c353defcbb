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
#include "pipeline/ledger.h"
#include "pipeline/records.h"

namespace pipeline {

// The ledger's outputs for some days, searchable by original.
class OriginalsIndex {
 public:
  // Reads ledger/<date>/ of each day in `dates` (all of ledger/ when empty). Files that are not
  // sealed output records are passed over and named in refused(); with `include_unsealed`, output
  // records without a seal (written before records were sealed) are searched too (what they say
  // of an original is still checked against its bytes: size, SHA-256, MD5).
  static OriginalsIndex load(Ledger& ledger, SealChecker& checker,
                             const std::vector<std::string>& dates, bool include_unsealed = false);

  // The outputs recorded as holding that version of the original (any version when none is
  // named), the last listed first. More than one: a version combined again after its output was
  // lost, or a record left by an attempt that never completed its output (whose key another
  // attempt may have taken since): only reading shows which still holds it.
  std::vector<HeldOriginal> find(const std::string& bucket, const std::string& key,
                                 const std::string& version_id = "") const;
  std::size_t outputs() const { return outputs_; }
  const std::vector<std::string>& refused() const { return refused_; }

 private:
  std::multimap<std::string, HeldOriginal> by_original_;  // "bucket\nkey"
  std::size_t outputs_ = 0;
  std::vector<std::string> refused_;
};

// Whether S3's ETag of the original is the MD5 of its bytes (single-part, not SSE-KMS, DSSE-KMS
// or SSE-C): S3's own word about it, which no writer of the work bucket controls. A record from
// before encryption was recorded is judged by the ETag's form alone.
bool etag_is_md5(const Source& source);

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

// The output with its index: a receipt's summary (OutputRecord::index) completed from the sealed
// ledger record it points at, which must describe the same output (bucket, key, size, ETag) with
// as many originals of as many bytes; VerificationFailed otherwise, and for a summary without an
// index or whose index is not in `ledger`'s bucket.
OutputRecord with_index(Ledger& ledger, SealChecker& checker, const OutputRecord& output);

// Reads an output once, in ranges, in bounded memory, hashing each original's range: why the
// output no longer holds every original as its index records it (an original whose bytes have
// another SHA-256, or another MD5 than an ETag that states one; an output shorter than its
// index), or nullopt. An index without digests has nothing to compare: nullopt.
std::optional<std::string> content_problem(common::S3Client& s3, const OutputRecord& output);

}  // namespace pipeline
