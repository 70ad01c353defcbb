#include "functions/delete_originals/handler.h"

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <map>
#include <set>

#include "common/settings.h"
#include "pipeline/continuation.h"
#include "pipeline/originals.h"
#include "pipeline/records.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::delete_originals {

namespace json = boost::json;

namespace {

constexpr int kDeleteRounds = 3;

using pipeline::OutputRef;
using pipeline::Receipt;
using pipeline::Source;

// The outputs the receipt's originals are in: this run's, and those of earlier runs that hold
// originals combined already (each once).
std::vector<OutputRef> outputs_of(const Receipt& receipt) {
  std::vector<OutputRef> outputs;
  std::set<std::string> seen;
  for (const auto& output : receipt.combined.outputs) {
    seen.insert(output.where.key);
    outputs.push_back(output.where);
  }
  for (const auto& already : receipt.already_combined) {
    if (seen.insert(already.output.key).second) outputs.push_back(already.output);
  }
  return outputs;
}

// Every output must be in S3 exactly as the receipt describes it, and its index must place each
// original inside it, before anything is deleted.
void verify_outputs(common::S3Client& s3, const Receipt& receipt) {
  const std::string& bucket = receipt.destination_bucket;
  for (const auto& output : receipt.combined.outputs) {
    if (const auto problem = output.index_problem()) {
      throw runtime::VerificationFailed("the index of output s3://" + bucket + "/" +
                                        output.where.key + " is wrong (" + *problem +
                                        "): nothing deleted");
    }
  }
  for (const auto& output : outputs_of(receipt)) {
    common::HeadResult head;
    try {
      head = s3.head_object(bucket, output.key);
    } catch (const common::NoSuchKey&) {
      throw runtime::VerificationFailed("output s3://" + bucket + "/" + output.key +
                                        " is missing: nothing deleted");
    }
    if (head.size != output.size || head.etag != output.etag) {
      throw runtime::VerificationFailed(
          "output s3://" + bucket + "/" + output.key + " is " + std::to_string(head.size) +
          " bytes with etag " + head.etag + ", the receipt says " + std::to_string(output.size) +
          " and " + output.etag + ": nothing deleted");
    }
  }
  // The outputs this run wrote are read back, each original's bytes hashed against the index: an
  // original is deleted only once the copy of it that will remain is proven byte for byte.
  for (const auto& output : receipt.combined.outputs) {
    if (const auto problem = pipeline::content_problem(s3, output)) {
      throw runtime::VerificationFailed("output s3://" + bucket + "/" + output.where.key +
                                        " does not hold its originals: " + *problem +
                                        "; nothing deleted");
    }
  }
}

// Every original the receipt accounts for as combined: in its outputs, empty, or combined by an
// earlier run. Skipped ones are not among them: they stay.
std::vector<Source> originals_of(const Receipt& receipt) {
  std::vector<Source> originals;
  for (const auto& output : receipt.combined.outputs)
    originals.insert(originals.end(), output.sources.begin(), output.sources.end());
  originals.insert(originals.end(), receipt.combined.empty_sources.begin(),
                   receipt.combined.empty_sources.end());
  for (const auto& already : receipt.already_combined) originals.push_back(already.source);
  return originals;
}

// What to delete for these originals: in a versioned bucket exactly the combined version (every
// other version, older or newer, is an original of its own: combined in its own right, or left
// where it is); in an unversioned one the key, on condition that it still holds the bytes that
// were combined (a conditional delete with the combined ETag: an overwritten object survives).
std::vector<common::ObjectId> doomed_of(const std::vector<Source>& originals) {
  std::vector<common::ObjectId> doomed;
  for (const auto& original : originals) {
    if (!original.version_id.empty() && original.version_id != "null")
      doomed.push_back({original.key, original.version_id, ""});
    else
      doomed.push_back({original.key, "", common::quoted_etag(original.etag)});
  }
  return doomed;
}

// Carried across invocations (pipeline/continuation.h): counts in the state, the keys that could
// not be deleted in a checkpoint file.
struct Tally {
  std::uint64_t deleted = 0;
  std::uint64_t kept_changed = 0;
  std::vector<json::object> failed;

  static Tally from(common::S3Client& s3, const pipeline::DeleteContinuation& state) {
    Tally tally{state.deleted, state.kept_changed, {}};
    if (state.failed_keys) tally.failed = pipeline::read_jsonl(s3, *state.failed_keys);
    return tally;
  }

  pipeline::DeleteContinuation state(common::S3Client& s3, const std::string& work_bucket,
                                     const std::string& run_id, const std::string& group_id,
                                     std::size_t next) const {
    pipeline::DeleteContinuation state{next, deleted, kept_changed, failed.size(), std::nullopt};
    if (!failed.empty()) {
      state.failed_keys = pipeline::write_jsonl(
          s3, work_bucket,
          pipeline::checkpoint_key(run_id, "delete-failures", group_id, next, "jsonl"), failed, 0);
    }
    return state;
  }
};

// One chunk: keys S3 refuses are retried; a key whose ETag no longer matches was overwritten
// after it was combined and stays; one already gone is done.
void delete_chunk(const Config& config, common::S3Client& s3, const std::string& bucket,
                  std::vector<common::ObjectId> doomed, Tally& tally, common::Pacer& pacer) {
  for (int round = 1; round <= kDeleteRounds && !doomed.empty(); ++round) {
    const auto result = s3.delete_objects(bucket, doomed, config.delete_concurrency,
                                          config.keys_per_request, &pacer);
    tally.deleted += static_cast<std::int64_t>(result.deleted.size());
    doomed.clear();
    for (const auto& error : result.errors) {
      if (error.code == "PreconditionFailed") {
        ++tally.kept_changed;
        runtime::log::warn("original changed after it was combined; kept", "key", error.object.key);
      } else if (error.code != "NoSuchKey") {
        doomed.push_back(error.object);
      }
    }
    if (!doomed.empty() && round < kDeleteRounds) {
      runtime::log::warn("S3 refused some deletions; retrying them", "keys", doomed.size(), "round",
                         round);
    }
  }
  for (const auto& object : doomed) {
    runtime::log::warn("original could not be deleted; it stays", "key", object.key);
    tally.failed.push_back({{"key", object.key}, {"version_id", object.version_id}});
  }
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.delete_concurrency =
      common::number_setting("DELETE_CONCURRENCY", config.delete_concurrency);
  config.keys_per_request = common::number_setting("DELETE_BATCH_KEYS", config.keys_per_request);
  config.keys_per_second =
      common::number_setting("DELETE_KEYS_PER_SECOND", config.keys_per_second, 0);
  if (config.keys_per_request > common::kMaxDeleteKeys) {
    throw runtime::ConfigurationError(
        "DELETE_BATCH_KEYS is at most 1000 (S3's DeleteObjects limit)");
  }
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, const json::value& event,
                   const common::Deadline& deadline) {
  if (!event.is_object()) throw runtime::InvalidInput("the event must be CombineLogFiles' result");
  const auto& input = event.get_object();
  const auto step = pipeline::read_record<pipeline::CombineResult>(input);
  const pipeline::FileRef& receipt_ref = step.receipt;
  Receipt receipt = pipeline::read_record<Receipt>(pipeline::read_json(s3, receipt_ref));
  for (auto& output : receipt.combined.outputs) output = pipeline::with_index(s3, output);
  const std::string& bucket = receipt.source_bucket;
  const std::string& group_id = receipt.group_id;
  const std::string run_id = step.run_id.empty() ? "delete" : step.run_id;
  const auto resumed =
      pipeline::continuation_of<pipeline::DeleteContinuation>(input, "DeleteOriginals");
  std::size_t next = resumed ? static_cast<std::size_t>(resumed->next) : 0;
  Tally tally = resumed ? Tally::from(s3, *resumed) : Tally{};

  verify_outputs(s3, receipt);
  const std::vector<Source> originals = originals_of(receipt);
  // Chunks of originals between looks at the deadline; at least one per invocation.
  const std::size_t chunk = config.keys_per_request * config.delete_concurrency;
  // A group's originals share their folder: one prefix's write rate for all of them.
  common::Pacer pacer(static_cast<double>(config.keys_per_second));
  bool progressed = false;
  while (next < originals.size()) {
    if (progressed && deadline.reached()) {
      runtime::log::info("continuing in the next invocation", "group", group_id, "done", next,
                         "originals", originals.size());
      return pipeline::continue_with(input,
                                     tally.state(s3, receipt_ref.bucket, run_id, group_id, next));
    }
    const std::vector<Source> slice(
        originals.begin() + static_cast<std::ptrdiff_t>(next),
        originals.begin() + static_cast<std::ptrdiff_t>(std::min(originals.size(), next + chunk)));
    delete_chunk(config, s3, bucket, doomed_of(slice), tally, pacer);
    next += slice.size();
    progressed = true;
  }
  runtime::metrics::add("ObjectsDeleted", runtime::metrics::Unit::Count,
                        static_cast<double>(tally.deleted));
  // A group whose originals could not all be deleted is not a silent success: the alarm on this
  // metric tells the operators, and the result names the file listing them.
  runtime::metrics::add("OriginalsNotDeleted", runtime::metrics::Unit::Count,
                        static_cast<double>(tally.failed.size()));
  runtime::log::info("originals deleted", "group", group_id, "deleted", tally.deleted, "failed",
                     tally.failed.size(), "kept_changed", tally.kept_changed);
  const auto state = tally.state(s3, receipt_ref.bucket, run_id, group_id, next);
  return json::value_from(pipeline::DeleteResult{group_id, state.deleted, state.kept_changed,
                                                 state.failed, state.failed_keys});
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext& context) {
    return handle(*config, *s3, event, common::Deadline(context));
  };
}

}  // namespace functions::delete_originals
