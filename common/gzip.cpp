#include "common/gzip.h"

#include <zlib.h>

#include <array>
#include <stdexcept>
#include <utility>

namespace common {

namespace {

struct Magic {
  std::string_view bytes;
  const char* format;
};

// Formats that show up in log buckets and must never be appended to text.
constexpr std::array kBinaryMagic = {
    Magic{std::string_view("\x28\xb5\x2f\xfd", 4), "zstd"},
    Magic{std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6), "xz"},
    Magic{std::string_view("\x04\x22\x4d\x18", 4), "lz4"},
    Magic{"PK\x03\x04", "zip"},
    Magic{"PAR1", "Parquet"},
    Magic{"Obj\x01", "Avro"},
    Magic{std::string_view("7z\xbc\xaf\x27\x1c", 6), "7z"},
    Magic{std::string_view("\x78\x9c", 2), "zlib"},
};

ContentCheck unsafe(std::string reason) {
  ContentCheck check;
  check.kind = ContentKind::kUnsafe;
  check.reason = std::move(reason);
  return check;
}

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::optional<std::string> binary_reason(std::string_view bytes) {
  // bzip2: "BZh", the block size digit, then the block magic (pi's digits 314159).
  if (bytes.size() >= 10 && bytes.starts_with("BZh") && bytes[3] >= '1' && bytes[3] <= '9' &&
      bytes.substr(4, 6) == "\x31\x41\x59\x26\x53\x59") {
    return std::string("bzip2 content");
  }
  for (const auto& magic : kBinaryMagic) {
    if (bytes.starts_with(magic.bytes)) return std::string(magic.format) + " content";
  }
  if (bytes.find('\0') != std::string_view::npos) return std::string("binary content (NUL bytes)");
  return std::nullopt;
}

namespace detail {

// Inflates concatenated gzip members as their bytes arrive, handing each decompressed chunk to
// a sink: the one loop behind GzipChecker and gunzip. (Named, not anonymous: GzipChecker::State
// holds one.)
class MemberInflater {
 public:
  MemberInflater() {
    // 15 + 16: gzip members only (a zlib stream is not a gzip file).
    if (inflateInit2(&stream_, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  }
  ~MemberInflater() { inflateEnd(&stream_); }
  MemberInflater(const MemberInflater&) = delete;
  MemberInflater& operator=(const MemberInflater&) = delete;

  // Why the bytes so far are not gzip, or nullopt; the sink may stop it by returning a reason.
  template <typename Sink>
  std::optional<std::string> feed(std::string_view compressed, Sink&& sink) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream_.avail_in = static_cast<uInt>(compressed.size());
    while (stream_.avail_in > 0) {
      if (!member_open_) {
        inflateReset(&stream_);
        member_open_ = true;
      }
      stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
      stream_.avail_out = static_cast<uInt>(buffer_.size());
      const uInt available = stream_.avail_in;
      const int result = inflate(&stream_, Z_NO_FLUSH);
      const bool stuck = result == Z_BUF_ERROR && stream_.avail_in == available &&
                         stream_.avail_out == buffer_.size();
      if ((result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR) || stuck)
        return members_ ? "bytes after the last gzip member are not gzip" : "corrupt gzip data";
      if (auto stop = sink(std::string_view(buffer_.data(), buffer_.size() - stream_.avail_out)))
        return stop;
      if (result == Z_STREAM_END) {
        member_open_ = false;
        members_ = true;
      }
    }
    return std::nullopt;
  }

  // Why the bytes, once all fed, are not complete gzip, or nullopt.
  std::optional<std::string> finish() const {
    if (member_open_ || !members_) return std::string("gzip data ends inside a member (truncated)");
    return std::nullopt;
  }

 private:
  z_stream stream_{};
  bool member_open_ = false;  // inside a member: more bytes are needed
  bool members_ = false;      // at least one member ended
  std::array<char, 64 * 1024> buffer_{};
};

}  // namespace detail

struct GzipChecker::State {
  detail::MemberInflater inflater;
  std::optional<std::string> failure;
  std::optional<char> last_byte;
  Sha256 bytes_hash;
  Sha256 content_hash;
};

GzipChecker::GzipChecker() : state_(std::make_unique<State>()) {}

GzipChecker::~GzipChecker() = default;

bool GzipChecker::feed(std::string_view compressed) {
  State& s = *state_;
  if (s.failure) return false;
  s.bytes_hash.update(compressed);
  s.failure = s.inflater.feed(compressed, [&](std::string_view text) -> std::optional<std::string> {
    if (text.find('\0') != std::string_view::npos) return "gzip of binary content (NUL bytes)";
    if (!text.empty()) s.last_byte = text.back();
    s.content_hash.update(text);
    return std::nullopt;
  });
  return !s.failure;
}

ContentCheck GzipChecker::finish() {
  State& s = *state_;
  if (auto failure = s.failure ? s.failure : s.inflater.finish()) return unsafe(*failure);
  return {ContentKind::kGzip, s.last_byte, "", s.bytes_hash.hex_digest(),
          s.content_hash.hex_digest()};
}

bool TextChecker::feed(std::string_view text) {
  if (failure_ || text.empty()) return !failure_;
  // Magic bytes count only at the start; a NUL byte anywhere.
  failure_ = started_ ? (text.find('\0') != std::string_view::npos
                             ? std::optional<std::string>("binary content (NUL bytes)")
                             : std::nullopt)
                      : binary_reason(text);
  started_ = true;
  last_byte_ = text.back();
  hash_.update(text);
  return !failure_;
}

ContentCheck TextChecker::finish() {
  if (failure_) return unsafe(*failure_);
  if (!started_) return {};
  const std::string digest = hash_.hex_digest();
  return {ContentKind::kText, last_byte_, "", digest, digest};
}

namespace {

// Enough of an object's start to tell gzip, bzip2 and the other magic bytes from text.
constexpr std::size_t kMagicBytes = 10;

}  // namespace

struct ContentStream::Inflating {
  detail::MemberInflater inflater;
};

ContentStream::ContentStream(Sink sink) : sink_(std::move(sink)) {}

ContentStream::~ContentStream() = default;

void ContentStream::feed(std::string_view bytes) {
  if (kind_ != ContentKind::kEmpty) return pass(bytes);
  head_.append(bytes);
  if (head_.size() >= kMagicBytes) decide();
}

void ContentStream::finish() {
  if (kind_ == ContentKind::kEmpty && !head_.empty()) decide();
  if (kind_ != ContentKind::kGzip) return;
  if (auto failure = inflating_->inflater.finish()) throw ContentRefused(*failure);
}

void ContentStream::decide() {
  if (is_gzip(head_)) {
    kind_ = ContentKind::kGzip;
    inflating_ = std::make_unique<Inflating>();
  } else if (auto reason = binary_reason(head_)) {
    throw ContentRefused(*reason);
  } else {
    kind_ = ContentKind::kText;
  }
  pass(std::exchange(head_, {}));
}

void ContentStream::pass(std::string_view bytes) {
  if (kind_ == ContentKind::kText) {
    if (bytes.find('\0') != std::string_view::npos)
      throw ContentRefused("binary content (NUL bytes)");
    if (!bytes.empty()) sink_(bytes);
    return;
  }
  auto failure =
      inflating_->inflater.feed(bytes, [&](std::string_view text) -> std::optional<std::string> {
        if (text.find('\0') != std::string_view::npos) return "gzip of binary content (NUL bytes)";
        if (!text.empty()) sink_(text);
        return std::nullopt;
      });
  if (failure) throw ContentRefused(*failure);
}

ContentCheck check_content(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (is_gzip(bytes)) {
    GzipChecker checker;
    checker.feed(bytes);
    return checker.finish();
  }
  TextChecker checker;
  checker.feed(bytes);
  return checker.finish();
}

std::string gzip(std::string_view text, int level) {
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(text.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

const std::string& newline_gzip_member() {
  static const std::string member = gzip("\n");
  return member;
}

std::string gunzip(std::string_view compressed) {
  detail::MemberInflater inflater;
  std::string text;
  auto failure = inflater.feed(compressed, [&](std::string_view chunk) {
    text.append(chunk);
    return std::optional<std::string>();
  });
  if (!failure) failure = inflater.finish();
  if (failure) throw std::runtime_error(*failure);
  return text;
}

}  // namespace common
