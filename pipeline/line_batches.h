#pragma once
// What an HTTP ingestion endpoint receives from a log object: its lines, cut into batches bounded
// by lines and bytes, each named by where its lines come from so a receiver can drop a batch it
// was sent twice (delivery is at least once).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pipeline {

// An object version and a range of its lines, 1-based, both ends included.
struct BatchId {
  std::string bucket;
  std::string key;
  std::string version_id;  // empty for an unversioned bucket
  std::uint64_t first_line = 0;
  std::uint64_t last_line = 0;

  // "<16 hex digits>:<first>-<last>", the digits the start of the SHA-256 of bucket, key and
  // version: the same on every replay of the object, and safe in a header whatever bytes the key
  // holds.
  std::string text() const;
  bool operator==(const BatchId&) const = default;
};

struct LineBatch {
  BatchId id;
  std::string body;  // NDJSON: every line followed by "\n"
  std::uint64_t lines = 0;
};

struct BatchLimits {
  std::size_t max_lines = 1000;
  std::size_t max_bytes = 1 << 20;         // of the body
  std::size_t max_line_bytes = 256 << 10;  // a longer line is refused, not cut
};

// What to do with a line that is not JSON: send it as it is (nothing is checked), wrap it as
// {"raw": "<line>"}, or drop it (counted).
enum class NonJsonLines { kSend, kWrap, kDrop };

// Cuts an object's text, fed in chunks cut anywhere, into lines ("\n", or "\r\n": the "\r" is
// dropped; empty lines are skipped but numbered) and the lines into batches: a batch is handed on
// as soon as the next line would take it past either limit, and by finish() with the rest (a last
// line without a newline included). Batches are the same for the same text whatever its chunks,
// so a replay sends the same ids. A line over max_line_bytes is runtime::InvalidInput naming its
// number. Memory: one batch and one line.
class LineBatcher {
 public:
  using Emit = std::function<void(LineBatch&&)>;
  // `object`: bucket, key and version; the lines are filled in.
  LineBatcher(BatchId object, BatchLimits limits, NonJsonLines non_json, Emit emit);

  void feed(std::string_view text);
  void finish();

  std::uint64_t lines() const { return line_number_; }  // numbered so far, empty ones included
  std::uint64_t dropped() const { return dropped_; }    // not JSON, under kDrop

 private:
  void take_line(std::string_view line);
  void add(std::string_view line);
  void hand_on();

  BatchId object_;
  BatchLimits limits_;
  NonJsonLines non_json_;
  Emit emit_;
  std::string partial_;  // a line whose newline has not come yet
  std::uint64_t line_number_ = 0;
  std::uint64_t dropped_ = 0;
  LineBatch batch_;
};

}  // namespace pipeline
