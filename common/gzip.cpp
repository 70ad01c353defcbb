#include "common/gzip.h"

#include <zlib.h>

#include <array>
#include <stdexcept>

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

struct GzipChecker::State {
  z_stream stream{};
  bool member_open = false;  // inside a member: more bytes are needed
  bool members = false;      // at least one member ended
  bool failed = false;
  std::string reason;
  std::optional<char> last_byte;
  std::array<char, 64 * 1024> buffer{};

  void fail(std::string why) {
    failed = true;
    reason = std::move(why);
  }
};

GzipChecker::GzipChecker() : state_(std::make_unique<State>()) {
  // 15 + 16: gzip members only (a zlib stream is not a gzip file).
  if (inflateInit2(&state_->stream, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
}

GzipChecker::~GzipChecker() {
  inflateEnd(&state_->stream);
}

bool GzipChecker::feed(std::string_view compressed) {
  State& s = *state_;
  z_stream& stream = s.stream;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  while (!s.failed && stream.avail_in > 0) {
    if (!s.member_open) {
      inflateReset(&stream);
      s.member_open = true;
    }
    stream.next_out = reinterpret_cast<Bytef*>(s.buffer.data());
    stream.avail_out = static_cast<uInt>(s.buffer.size());
    const uInt available = stream.avail_in;
    const int result = inflate(&stream, Z_NO_FLUSH);
    const bool stuck = result == Z_BUF_ERROR && stream.avail_in == available &&
                       stream.avail_out == s.buffer.size();
    if ((result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR) || stuck) {
      s.fail(s.members ? "bytes after the last gzip member are not gzip" : "corrupt gzip data");
      break;
    }
    const std::string_view text(s.buffer.data(), s.buffer.size() - stream.avail_out);
    if (text.find('\0') != std::string_view::npos) {
      s.fail("gzip of binary content (NUL bytes)");
      break;
    }
    if (!text.empty()) s.last_byte = text.back();
    if (result == Z_STREAM_END) {
      s.member_open = false;
      s.members = true;
    }
  }
  return !s.failed;
}

ContentCheck GzipChecker::finish() {
  const State& s = *state_;
  if (s.failed) return {ContentKind::kUnsafe, std::nullopt, s.reason};
  if (s.member_open || !s.members)
    return {ContentKind::kUnsafe, std::nullopt, "gzip data ends inside a member (truncated)"};
  return {ContentKind::kGzip, s.last_byte, ""};
}

ContentCheck check_content(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (is_gzip(bytes)) {
    GzipChecker checker;
    checker.feed(bytes);
    return checker.finish();
  }
  if (auto reason = binary_reason(bytes)) return {ContentKind::kUnsafe, std::nullopt, *reason};
  return {ContentKind::kText, bytes.back(), ""};
}

std::string gzip(std::string_view text) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
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
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string text;
  char buffer[64 * 1024];
  while (stream.avail_in > 0) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    const int result = inflate(&stream, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("not valid gzip");
    }
    text.append(buffer, sizeof buffer - stream.avail_out);
    if (result == Z_STREAM_END && stream.avail_in > 0) inflateReset(&stream);
  }
  inflateEnd(&stream);
  return text;
}

}  // namespace common
