#pragma once
// gzip decided by content, never by name: a ".gz" key may hold plain text and the other way round.
#include <optional>
#include <string>
#include <string_view>

namespace common {

// Starts with the gzip magic bytes 1f 8b.
bool is_gzip(std::string_view bytes);

// A complete gzip member whose content is "\n": appended after a gzip source whose text does not
// end in a newline, so the next file starts on a line of its own once the output is decompressed.
const std::string& newline_gzip_member();

// The last byte of the decompressed content of one or more concatenated gzip members; nullopt for
// empty content. Throws std::runtime_error when the bytes are not valid gzip.
std::optional<char> gzip_last_byte(std::string_view compressed);

// Decompresses concatenated gzip members (tests and tools).
std::string gunzip(std::string_view compressed);
std::string gzip(std::string_view text);

}  // namespace common
