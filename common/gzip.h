#pragma once
// What a log object holds, decided by content, never by name: a ".gz" key may hold plain text and
// the other way round. Only what can be combined safely is combined: gzip whose every member
// inflates to text, and text. Anything else (a truncated or corrupt member, bzip2, zstd, zip,
// Parquet, anything with NUL bytes) stays where it is.
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/hashing.h"

namespace common {

// Starts with the gzip magic bytes 1f 8b.
bool is_gzip(std::string_view bytes);

// Why bytes that are not gzip are not text either, or nullopt when they may be text: a NUL byte,
// or the magic bytes of a compressed or columnar format.
std::optional<std::string> binary_reason(std::string_view bytes);

enum class ContentKind { kEmpty, kGzip, kText, kUnsafe };

struct ContentCheck {
  ContentKind kind = ContentKind::kEmpty;
  std::optional<char> last_byte;  // of the decompressed text (gzip) or of the text
  std::string reason;             // kUnsafe: why it stays in place
  // kGzip and kText: hex SHA-256 of the bytes as they are, and of their decompressed content
  // (the same for text). CloudTrail's digests hash a log's content; an output's index keeps both.
  std::string sha256;
  std::string content_sha256;
};

// Checks concatenated gzip members as they stream by, in bounded memory: every member must
// inflate completely (CRC and length checked by zlib) to text. Hashes both sides on the way.
class GzipChecker {
 public:
  GzipChecker();
  ~GzipChecker();
  GzipChecker(const GzipChecker&) = delete;
  GzipChecker& operator=(const GzipChecker&) = delete;

  // False once the bytes so far cannot be valid gzip text (finish() says why); later calls do
  // nothing.
  bool feed(std::string_view compressed);
  // The verdict once every byte was fed: kGzip with the text's last byte and the digests, or
  // kUnsafe.
  ContentCheck finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Text checked as it streams by (a large plain source read in ranges): no NUL byte, no binary
// magic at its start, hashed on the way.
class TextChecker {
 public:
  bool feed(std::string_view text);
  ContentCheck finish();

 private:
  Sha256 hash_;
  bool started_ = false;
  std::optional<std::string> failure_;
  std::optional<char> last_byte_;
};

// The verdict on a whole object held in memory.
ContentCheck check_content(std::string_view bytes);

// An object's text as its bytes stream by, in bounded memory, by what its first bytes are: gzip
// members (any number) are inflated, text passes through, anything else is refused. The sink
// gets the text in chunks, cut anywhere.
class ContentStream {
 public:
  using Sink = std::function<void(std::string_view text)>;
  explicit ContentStream(Sink sink);
  ~ContentStream();
  ContentStream(const ContentStream&) = delete;
  ContentStream& operator=(const ContentStream&) = delete;

  // ContentRefused with the reason once the bytes so far cannot be gzip of text, or text.
  void feed(std::string_view bytes);
  // Once every byte was fed: ContentRefused for gzip that ends inside a member.
  void finish();
  // kEmpty until enough bytes came to decide (or none at all), then kGzip or kText.
  ContentKind kind() const { return kind_; }

 private:
  void decide();
  void pass(std::string_view bytes);

  Sink sink_;
  ContentKind kind_ = ContentKind::kEmpty;
  std::string head_;  // the first bytes, held until they say what the object is
  struct Inflating;
  std::unique_ptr<Inflating> inflating_;
};

class ContentRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A complete gzip member whose content is "\n": appended after a gzip source whose text does not
// end in a newline, so the next file starts on a line of its own once the output is decompressed.
const std::string& newline_gzip_member();

// Decompresses concatenated gzip members (tests and tools); throws on invalid gzip.
std::string gunzip(std::string_view compressed);
// One gzip member of `text`; level 1 (fastest) to 9 (smallest, the default: outputs are kept for
// years), as zlib's.
std::string gzip(std::string_view text, int level = 9);

}  // namespace common
