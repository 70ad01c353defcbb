#include "common/gzip.h"

#include <zlib.h>

#include <stdexcept>

namespace common {

namespace {

// Inflates every member in turn, handing each decompressed chunk to `sink`.
template <typename Sink>
void inflate_members(std::string_view compressed, Sink&& sink) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  char buffer[64 * 1024];
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    const int result = inflate(&stream, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) {
      inflateEnd(&stream);
      throw std::runtime_error("not valid gzip");
    }
    sink(std::string_view(buffer, sizeof buffer - stream.avail_out));
    if (result == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // the next member
    } else if (stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      throw std::runtime_error("gzip data ends inside a member");
    }
  }
  inflateEnd(&stream);
}

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
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

std::optional<char> gzip_last_byte(std::string_view compressed) {
  std::optional<char> last;
  inflate_members(compressed, [&](std::string_view chunk) {
    if (!chunk.empty()) last = chunk.back();
  });
  return last;
}

std::string gunzip(std::string_view compressed) {
  std::string text;
  inflate_members(compressed, [&](std::string_view chunk) { text.append(chunk); });
  return text;
}

}  // namespace common
