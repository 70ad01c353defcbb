#pragma once
// DetermineOperationType: turns one group's file list into a plan for CombineLogFiles.
//
// Event: a pipeline::Group from GetFiles' groups file with "run_id" (or, from the Map,
// {"group": Group, "run_id"}); its file list holds pipeline::FileEntry lines.
// Result: {"group_id", "run_id", "operation", "plan": FileRef to a pipeline::Plan (absent for
// none), "outputs", "files", "bytes", "already_combined"}.
//
// CombineLogFiles adds each planned output's extension (.gz for gzip members, .log for plain
// text) from what it reads. Within an output, sources copied server-side come first, then the
// small ones (packed into parts), each in key order, so every part but the last is >= 5 MiB.
//
// Output names are each group's own (another bucket's folder: its slug and the hash of the exact
// folder; a copied file: the group's name and the file's), numbered after those a previous run
// left for the same group and day, so a day run again adds outputs and never overwrites one.
// Originals that the ledger (pipeline/ledger.h) shows inside an output that still stands are not
// planned again: they travel as "already_combined" to DeleteOriginals. Uploads of the group's
// outputs that a killed attempt left open are aborted.
//
// Environment: WORK_BUCKET, DESTINATION_BUCKET, SEAL_KEY_ID (its ledger's seals),
// DESTINATION_PREFIX (default "aggregated"), GLACIER_MIN_SIZE (204800: when every file is at least
// this big, they are copied as they are), MAX_OUTPUT_BYTES (default 5 GiB), HEAD_CONCURRENCY (32).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/s3.h"
#include "pipeline/plan.h"
#include "pipeline/seal.h"
#include "runtime/runtime.h"

namespace functions::determine_operation_type {

using pipeline::AlreadyCombined;
using pipeline::FileEntry;
using pipeline::Group;
using pipeline::GroupKind;
using pipeline::Operation;
using pipeline::Plan;
using pipeline::PlannedOutput;
using pipeline::Source;

struct Config {
  std::string work_bucket;
  std::string destination_bucket;
  std::string destination_prefix = "aggregated";
  std::uint64_t glacier_min_size = 204800;
  std::uint64_t max_output_bytes = 5ull << 30;
  std::size_t head_concurrency = 32;

  static Config from_environment();
};

boost::json::value handle(const Config& config, common::S3Client& s3,
                          pipeline::SealChecker& checker, const boost::json::value& event);

runtime::Handler make_handler();

}  // namespace functions::determine_operation_type
