#pragma once
// How a function that runs out of time goes on in its next invocation — the one mechanism
// GetFiles, CombineLogFiles and DeleteOriginals share.
//
// Near its deadline (common::Deadline, looked at between units of work, at least one unit per
// call so a late start still progresses) a function stops at a commit point and returns its own
// event with "continuation": a small state record. The state machine's Choice sees it and calls
// the function again with that result as the event. What does not fit in a state (256 KB) is
// written to the work bucket first, at a key named by the point it stands for
// (checkpoint_key): a repeated call reads exactly what the first read, never a file a later call
// wrote, so a call that runs twice or half-way never adds or skips a unit.
#include <boost/json/object.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/layout.h"
#include "pipeline/records.h"
#include "runtime/errors.h"

namespace pipeline {

// One listing of GetFiles' work: the prefixes of one Control Tower account's log type in a
// region (its group), or one partition of another bucket (a group per folder, keys that carry the
// day only). Kept in work/<run>/units.json for the continuations.
struct ListingUnit {
  std::string bucket;
  std::vector<std::string> prefixes;
  bool root_only = false;  // only the objects directly under the prefix
  GroupKind kind = GroupKind::kOther;
  std::string account, log_type, region;  // control_tower
  bool operator==(const ListingUnit&) const = default;
};

// GetFiles: the listing units (work/<run>/units.json), how many are done, the groups written so
// far, and the delay-window line drawn once for the run.
struct ListingContinuation {
  FileRef units;
  std::uint64_t next = 0;
  FileRef groups;
  std::string newest_allowed;  // RFC 3339
  std::uint64_t skipped_recent = 0;
  bool operator==(const ListingContinuation&) const = default;
};

// CombineLogFiles: the checkpoint file holding the planned output it stopped in, that output's
// open uploads and what was combined before it; `sequence` numbers the checkpoints of a group.
struct CombineContinuation {
  FileRef progress;
  std::uint64_t sequence = 0;
  bool operator==(const CombineContinuation&) const = default;
};

// DeleteOriginals: how many of the receipt's originals are done and what came of them; the keys
// that could not be deleted in a work file.
struct DeleteContinuation {
  std::uint64_t next = 0;
  std::uint64_t deleted = 0;
  std::uint64_t kept_changed = 0;
  std::uint64_t failed = 0;
  std::optional<FileRef> failed_keys;
  bool operator==(const DeleteContinuation&) const = default;
};

// The event to call again with: `event` and its "continuation".
template <typename State>
boost::json::object continue_with(boost::json::object event, const State& state) {
  event["continuation"] = boost::json::value_from(state);
  return event;
}

// The event's continuation, if it has one; InvalidInput naming `function` when it is not one
// that function returned.
template <typename State>
std::optional<State> continuation_of(const boost::json::object& event, const char* function) {
  const auto* continuation = event.if_contains("continuation");
  if (continuation == nullptr) return std::nullopt;
  try {
    return boost::json::value_to<State>(*continuation);
  } catch (const runtime::InvalidInput& error) {
    throw runtime::InvalidInput(std::string("\"continuation\" is not one ") + function +
                                " returned: " + error.what());
  }
}

#define PIPELINE_CONTINUATION_CONVERSIONS(Type)                                 \
  void tag_invoke(const boost::json::value_from_tag&, boost::json::value& json, \
                  const Type& state);                                           \
  Type tag_invoke(const boost::json::value_to_tag<Type>&, const boost::json::value& json);
PIPELINE_CONTINUATION_CONVERSIONS(ListingUnit)
PIPELINE_CONTINUATION_CONVERSIONS(ListingContinuation)
PIPELINE_CONTINUATION_CONVERSIONS(CombineContinuation)
PIPELINE_CONTINUATION_CONVERSIONS(DeleteContinuation)
#undef PIPELINE_CONTINUATION_CONVERSIONS

}  // namespace pipeline
