#pragma once
// How a group of sources becomes multipart outputs: the one place for part packing. Large
// sources are copied server-side (UploadPartCopy, in ranges of at most 5 GiB), small ones packed
// into parts of at least 8 MiB, never more than 10,000 parts or max_output_bytes an output.
// DetermineOperationType plans a day's groups with it, CombineLogFiles a manifest.
#include <boost/json/object.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/s3.h"
#include "pipeline/records.h"

namespace pipeline {

// Packed parts (small sources, downloaded) are at least this large.
inline constexpr std::uint64_t kPackedPartBytes = 8ull << 20;
// A source this large (S3's minimum part) stands as a part, or parts, of its own: such sources go
// first in an output, so whatever is buffered when a server-side copy starts is never a part too
// small.
inline constexpr std::uint64_t kOwnPartMinBytes = common::kMinPartBytes;
// Sources from here are copied server-side (UploadPartCopy, in ranges of at most
// common::kMaxPartBytes) but for their last kServerCopyTailBytes, downloaded so the newline can
// follow them.
inline constexpr std::uint64_t kServerCopyTailBytes = common::kMinPartBytes;
inline constexpr std::uint64_t kServerCopyMinBytes = 2 * kServerCopyTailBytes;
// An output holds at most this many originals. Its index (the ledger record DeleteOriginals,
// restore-original and validate-logs read whole, and CombineLogFiles holds while writing it) then
// stays a few MiB, and CombineLogFiles' memory stays flat in the number of files of a group.
inline constexpr std::size_t kMaxSourcesPerOutput = 10000;

// Parts an output needs: each large source in ranges of at most 5 GiB, the small bytes packed.
std::uint64_t parts_needed(const std::vector<Source>& sources, std::uint64_t part_size);

// Splits sources (any order) into outputs named key_base-NNNN from first_number on: each at most
// max_output_bytes (a single larger source gets an output of its own), max_sources originals and
// 10,000 parts, with the packed part size grown as s3tar does when 10,000 parts of 8 MiB would
// not hold it.
std::vector<PlannedOutput> plan_outputs(std::vector<Source> sources, const std::string& key_base,
                                        std::uint64_t max_output_bytes,
                                        std::uint64_t first_number = 1,
                                        std::size_t max_sources = kMaxSourcesPerOutput);

// The number after the highest key_base-NNNN among `existing` keys, 1 when there is none: a day
// aggregated again (late files, a backfill) gets new outputs beside the earlier ones, never over
// them, whose originals are already gone.
std::uint64_t next_output_number(const std::vector<std::string>& existing,
                                 const std::string& key_base);

// `key`, or when an object of that name exists already, the first free "<stem>-NNNN<extension>"
// (from 0002): a file copied as it is never replaces an earlier copy.
std::string unused_key(const std::set<std::string>& existing, const std::string& key);

}  // namespace pipeline
