#pragma once
// A plan in the work bucket: the plan itself in one small file, each output's sources in a JSONL
// file of its own beside it. CombineLogFiles then holds one output's sources at a time (at most
// kMaxSourcesPerOutput), however many files the group has.
#include <string>
#include <vector>

#include "common/s3.h"
#include "pipeline/records.h"

namespace pipeline {

// Writes each output's sources to their file (planned_sources_key, at most `concurrency` PUTs
// in flight), then the plan, naming those files, to `key`; the plan's reference (count: outputs,
// bytes: the sources'). Planning is deterministic: written again, the files are the same.
FileRef write_plan(common::S3Client& s3, const std::string& bucket, const std::string& key,
                   Plan plan, std::size_t concurrency);

// A planned output's sources: read from their file, or as the plan holds them (a plan written
// before they were kept apart). InvalidInput when the file does not hold as many as planned.
std::vector<Source> planned_sources(common::S3Client& s3, const PlannedOutput& output);

}  // namespace pipeline
