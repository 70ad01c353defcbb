// Log objects are whatever producers wrote: any bytes. The content check decides what may be
// combined, so its verdict must agree with what the bytes are:
// - a kGzip verdict means every member inflates (gunzip succeeds) to text without NUL bytes, and
//   its last byte is the text's;
// - the streaming checker, fed in two pieces split anywhere, gives the same verdict as the whole;
// - gzip then gunzip gives back the input.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/gzip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const common::ContentCheck whole = common::check_content(bytes);
  if (whole.kind == common::ContentKind::kGzip) {
    std::string text;
    try {
      text = common::gunzip(bytes);
    } catch (const std::exception&) {
      __builtin_trap();  // judged combinable, yet it does not inflate
    }
    if (text.find('\0') != std::string::npos) __builtin_trap();
    if (!text.empty() && whole.last_byte != text.back()) __builtin_trap();
  }
  if (common::is_gzip(bytes)) {
    common::GzipChecker checker;
    const std::size_t split = size == 0 ? 0 : data[0] % size;
    if (checker.feed(std::string_view(bytes).substr(0, split)))
      checker.feed(std::string_view(bytes).substr(split));
    const common::ContentCheck streamed = checker.finish();
    if ((streamed.kind == common::ContentKind::kGzip) != (whole.kind == common::ContentKind::kGzip))
      __builtin_trap();
  }
  if (common::gunzip(common::gzip(bytes)) != bytes) __builtin_trap();
  return 0;
}
