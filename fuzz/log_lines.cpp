// What LogForwarder reads: any bytes a producer wrote, streamed in chunks cut anywhere, decided
// by their magic bytes (common::ContentStream), then cut into lines and batches
// (pipeline::LineBatcher). Any input gives batches or a named refusal, never anything else, and:
// - every batch keeps to its limits, and the batches' line ranges rise without overlapping;
// - gzip accepted as a stream gunzips whole to the same text;
// - where nothing is checked (kSend), the batches hold exactly the text's non-empty lines.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/gzip.h"
#include "pipeline/line_batches.h"
#include "runtime/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const auto non_json = static_cast<pipeline::NonJsonLines>(data[1] % 3);
  const std::string bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  const pipeline::BatchLimits limits{7, 256, 128};
  std::string text, sent;
  std::uint64_t last_line = 0;
  pipeline::LineBatcher batcher(
      {"logs", "k", "", 0, 0}, limits, non_json, [&](pipeline::LineBatch&& batch) {
        if (batch.lines == 0 || batch.lines > limits.max_lines ||
            batch.body.size() > limits.max_bytes || batch.id.first_line <= last_line ||
            batch.id.last_line < batch.id.first_line)
          __builtin_trap();
        last_line = batch.id.last_line;
        sent += batch.body;
      });
  common::ContentStream stream([&](std::string_view piece) {
    text.append(piece);
    batcher.feed(piece);
  });
  try {
    for (std::size_t i = 0; i < bytes.size(); i += chunk)
      stream.feed(std::string_view(bytes).substr(i, chunk));
    stream.finish();
    batcher.finish();
  } catch (const common::ContentRefused&) {
    return 0;
  } catch (const runtime::InvalidInput&) {
    return 0;
  }
  if (stream.kind() == common::ContentKind::kGzip && common::gunzip(bytes) != text)
    __builtin_trap();
  if (non_json == pipeline::NonJsonLines::kSend) {
    std::string expected, line;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && text[i] != '\n') {
        line.push_back(text[i]);
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) expected += line + "\n";
      line.clear();
    }
    if (sent != expected) __builtin_trap();
  }
  return 0;
}
