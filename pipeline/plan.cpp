#include "pipeline/plan.h"

#include <algorithm>
#include <cstdio>

#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace pipeline {

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

// The packed part size for this many small bytes next to `large_parts` copied parts: 8 MiB, or
// bigger (in whole MiB) when 8 MiB parts would not fit in what is left of the 10,000.
std::uint64_t part_size_for(std::uint64_t small_bytes, std::uint64_t large_parts) {
  if (large_parts >= common::kMaxParts) return common::kMaxPartBytes + 1;  // cannot fit
  const std::uint64_t parts_left = common::kMaxParts - large_parts;
  const std::uint64_t needed = ceil_div(small_bytes, parts_left);
  return std::max(kPackedPartBytes, ceil_div(needed, kMiB) * kMiB);
}

std::uint64_t large_parts_of(const Source& source) {
  return source.size >= kOwnPartMinBytes ? ceil_div(source.size, common::kMaxPartBytes) : 0;
}

}  // namespace

std::uint64_t parts_needed(const std::vector<Source>& sources, std::uint64_t part_size) {
  std::uint64_t large = 0;
  std::uint64_t small_bytes = 0;
  for (const auto& source : sources) {
    if (source.size >= kOwnPartMinBytes)
      large += large_parts_of(source);
    else
      small_bytes += source.size;
  }
  return large + ceil_div(small_bytes, part_size);
}

std::uint64_t next_output_number(const std::vector<std::string>& existing,
                                 const std::string& key_base) {
  std::uint64_t highest = 0;
  const std::string stem = key_base + "-";
  for (const auto& key : existing) {
    if (!key.starts_with(stem)) continue;
    const std::size_t digits_end = key.find_first_not_of("0123456789", stem.size());
    const std::size_t digits =
        (digits_end == std::string::npos ? key.size() : digits_end) - stem.size();
    // key_base-NNNN followed by the extension CombineLogFiles adds, nothing else.
    if (digits < 4 || digits > 9 || (digits_end != std::string::npos && key[digits_end] != '.'))
      continue;
    highest = std::max<std::uint64_t>(highest, std::stoull(key.substr(stem.size(), digits)));
  }
  return highest + 1;
}

std::string unused_key(const std::set<std::string>& existing, const std::string& key) {
  if (!existing.contains(key)) return key;
  const std::size_t slash = key.rfind('/');
  const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  std::size_t dot = key.find('.', name_start);
  if (dot == name_start) dot = key.find('.', name_start + 1);  // a hidden file's leading dot
  if (dot == std::string::npos) dot = key.size();
  for (std::uint64_t number = 2;; ++number) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04llu", static_cast<unsigned long long>(number));
    std::string candidate = key.substr(0, dot) + suffix + key.substr(dot);
    if (!existing.contains(candidate)) return candidate;
  }
}

std::vector<PlannedOutput> plan_outputs(std::vector<Source> sources, const std::string& key_base,
                                        std::uint64_t max_output_bytes, std::uint64_t first_number,
                                        std::size_t max_sources) {
  // Stable: the versions of one key stay in the order they were written.
  std::stable_sort(sources.begin(), sources.end(),
                   [](const Source& a, const Source& b) { return a.key < b.key; });
  std::vector<PlannedOutput> outputs;
  PlannedOutput current;
  std::uint64_t large_parts = 0;
  std::uint64_t small_bytes = 0;
  auto close = [&] {
    if (current.sources.empty()) return;
    current.part_size = part_size_for(small_bytes, large_parts);
    // Copied sources first, then packed ones: every part but the last is then at least 5 MiB.
    std::stable_partition(current.sources.begin(), current.sources.end(),
                          [](const Source& source) { return source.size >= kOwnPartMinBytes; });
    outputs.push_back(std::move(current));
    current = PlannedOutput{};
    large_parts = 0;
    small_bytes = 0;
  };
  for (auto& source : sources) {
    const std::uint64_t next_large = large_parts + large_parts_of(source);
    const std::uint64_t next_small =
        small_bytes + (source.size >= kOwnPartMinBytes ? 0 : source.size);
    const bool too_big = current.bytes + source.size > max_output_bytes;
    const bool too_many_parts = part_size_for(next_small, next_large) > common::kMaxPartBytes;
    const bool too_many_sources = current.sources.size() >= max_sources;
    if (!current.sources.empty() && (too_big || too_many_parts || too_many_sources)) close();
    large_parts += large_parts_of(source);
    small_bytes += source.size >= kOwnPartMinBytes ? 0 : source.size;
    current.bytes += source.size;
    current.sources.push_back(std::move(source));
  }
  close();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%04llu",
                  static_cast<unsigned long long>(first_number + i));
    outputs[i].key_base = key_base + suffix;
  }
  return outputs;
}

}  // namespace pipeline
