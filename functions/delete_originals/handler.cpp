#include "functions/delete_originals/handler.h"

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <map>
#include <set>

#include "common/settings.h"
#include "pipeline/continuation.h"
#include "pipeline/layout.h"
#include "pipeline/ledger.h"
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
constexpr std::size_t kHeadConcurrency = 8;

using pipeline::OutputRecord;
using pipeline::Receipt;
using pipeline::Source;

// The receipt is read only where its run keeps the group's: an event names no other place.
void check_receipt_place(const Config& config, const pipeline::CombineResult& step) {
  const std::string expected =
      pipeline::group_file_key(step.run_id, "receipts", step.group_id, "json");
  if (step.receipt.bucket != config.work_bucket || step.receipt.key != expected) {
    throw runtime::VerificationFailed("the receipt s3://" + step.receipt.bucket + "/" +
                                      step.receipt.key + " is not where run " + step.run_id +
                                      " keeps the group's: nothing deleted");
  }
}

// Where the receipt's outputs must be: a record names neither where its outputs are nor where
// their indexes are.
void check_places(const Config& config, const pipeline::CombineResult& step,
                  const Receipt& receipt) {
  if (receipt.group_id != step.group_id)
    throw runtime::VerificationFailed("the receipt is another group's: nothing deleted");
  if (receipt.destination_bucket != config.destination_bucket) {
    throw runtime::VerificationFailed("the receipt's outputs are in s3://" +
                                      receipt.destination_bucket +
                                      ", not in the destination bucket: nothing deleted");
  }
  if (receipt.date.empty())
    throw runtime::VerificationFailed("the receipt names no day of the ledger: nothing deleted");
  const std::string ledger = pipeline::ledger_prefix(receipt.date, receipt.group_id);
  for (const auto& output : receipt.combined.outputs) {
    if (output.where.bucket != config.destination_bucket || !output.index ||
        output.index->bucket != config.work_bucket || !output.index->key.starts_with(ledger)) {
      throw runtime::VerificationFailed("output " + output.where.key +
                                        " is not in the destination with its index in the "
                                        "group's ledger: nothing deleted");
    }
  }
}

// Each output must be in the destination exactly as its sealed ledger record describes it (the
// version this run wrote), and must hold each original's bytes as the record's digests and, where
// S3 states one, the original's MD5 say: only then is an original's copy proven byte for byte.
std::vector<Source> verified_outputs(const Config& config, common::S3Client& s3,
                                     pipeline::Ledger& ledger, pipeline::SealChecker& checker,
                                     const Receipt& receipt) {
  std::vector<Source> originals;
  for (const auto& summary : receipt.combined.outputs) {
    const OutputRecord output = pipeline::with_index(ledger, checker, summary);
    const std::string where = "output s3://" + config.destination_bucket + "/" + output.where.key;
    if (output.source_bucket != receipt.source_bucket)
      throw runtime::VerificationFailed(where +
                                        " holds another bucket's originals: nothing deleted");
    if (output.sha256.empty())
      throw runtime::VerificationFailed(where + "'s index has no digests: nothing deleted");
    common::HeadResult head;
    try {
      head = s3.head_object(config.destination_bucket, output.where.key, output.version_id);
    } catch (const common::NoSuchKey&) {
      throw runtime::VerificationFailed(where + " is missing: nothing deleted");
    }
    if (head.size != output.where.size || head.etag != output.where.etag) {
      throw runtime::VerificationFailed(where + " is " + std::to_string(head.size) +
                                        " bytes with etag " + head.etag + ", its index says " +
                                        std::to_string(output.where.size) + " and " +
                                        output.where.etag + ": nothing deleted");
    }
    if (const auto problem = pipeline::content_problem(s3, output)) {
      throw runtime::VerificationFailed(where + " does not hold its originals: " + *problem +
                                        "; nothing deleted");
    }
    originals.insert(originals.end(), output.sources.begin(), output.sources.end());
  }
  return originals;
}

// The receipt's empty originals, each as S3 has it now. A version is deleted only if S3 says it is
// empty with the ETag listed; in an unversioned bucket the delete is conditional on that ETag, so
// an object written over since goes no matter what (it is kept, counted as changed), but one that
// still has the ETag and is not empty makes the receipt a lie: nothing is deleted.
std::vector<Source> verified_empty(common::S3Client& s3, const Receipt& receipt) {
  const auto& claimed = receipt.combined.empty_sources;
  std::vector<common::AwsRequest> requests;
  const auto versioned = [](const Source& source) {
    return !source.version_id.empty() && source.version_id != "null";
  };
  for (const auto& source : claimed) {
    requests.push_back(s3.head_object_request(receipt.source_bucket, source.key,
                                              versioned(source) ? source.version_id : ""));
  }
  auto outcomes = s3.client().send_all(std::move(requests), kHeadConcurrency);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    try {
      const auto head = common::S3Client::head_result(outcomes[i].value());
      const bool same = head.etag == claimed[i].etag;
      if (versioned(claimed[i]) ? head.size != 0 || !same : same && head.size != 0) {
        throw runtime::VerificationFailed("s3://" + receipt.source_bucket + "/" + claimed[i].key +
                                          " is listed as empty and is not: nothing deleted");
      }
    } catch (const common::NoSuchKey&) {
      // Gone already (a resumed call deleted it); it stays in the list, so a continuation's
      // place in it stays where it was.
    }
  }
  return claimed;
}

// Originals an earlier run combined: found again in the group's sealed ledger records whose
// outputs still stand in the destination (as DetermineOperationType found them), never taken from
// the receipt, which only says which of them this group's plan went without.
std::vector<Source> verified_already_combined(const Config& config, common::S3Client& s3,
                                              pipeline::Ledger& ledger,
                                              pipeline::SealChecker& checker,
                                              const Receipt& receipt) {
  if (receipt.already_combined.empty()) return {};
  const auto scan = ledger.scan(checker, pipeline::ledger_prefix(receipt.date, receipt.group_id));
  for (const auto& refused : scan.refused)
    runtime::log::warn("a ledger file decides nothing", "why", refused);
  std::map<std::string, bool> standing;
  const auto stands = [&](const pipeline::OutputRef& output) {
    if (output.bucket != config.destination_bucket) return false;
    if (const auto known = standing.find(output.key); known != standing.end()) return known->second;
    bool found = false;
    try {
      const auto head = s3.head_object(config.destination_bucket, output.key);
      found = head.size == output.size && head.etag == output.etag;
    } catch (const common::NoSuchKey&) {
      // Gone: its originals are in no standing output.
    }
    return standing[output.key] = found;
  };
  const auto combined = pipeline::standing_originals(scan.records, receipt.source_bucket, stands);
  std::vector<Source> originals;
  for (const auto& claim : receipt.already_combined) {
    const auto found = combined.find(pipeline::OriginalId::of(claim.source));
    if (found == combined.end()) {
      throw runtime::VerificationFailed(
          "s3://" + receipt.source_bucket + "/" + claim.source.key +
          " is in no standing output the group's sealed ledger records: nothing deleted");
    }
    originals.push_back(found->second.source());
  }
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
  config.work_bucket = common::required_setting("WORK_BUCKET");
  config.destination_bucket = common::required_setting("DESTINATION_BUCKET");
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

json::value handle(const Config& config, common::S3Client& s3, pipeline::SealChecker& checker,
                   const json::value& event, const common::Deadline& deadline) {
  if (!event.is_object()) throw runtime::InvalidInput("the event must be CombineLogFiles' result");
  const auto& input = event.get_object();
  auto step = pipeline::read_record<pipeline::CombineResult>(input);
  step.run_id = pipeline::run_id_of(input);
  const auto resumed =
      pipeline::continuation_of<pipeline::DeleteContinuation>(input, "DeleteOriginals");
  check_receipt_place(config, step);
  const Receipt receipt = pipeline::read_record<Receipt>(
      pipeline::read_sealed(s3, checker, step.receipt.bucket, step.receipt.key));
  check_places(config, step, receipt);
  const std::string& bucket = receipt.source_bucket;
  const std::string& group_id = receipt.group_id;
  const std::string& run_id = step.run_id;
  std::size_t next = resumed ? static_cast<std::size_t>(resumed->next) : 0;
  Tally tally = resumed ? Tally::from(s3, *resumed) : Tally{};

  pipeline::Ledger ledger(s3, config.work_bucket);
  std::vector<Source> originals = verified_outputs(config, s3, ledger, checker, receipt);
  for (auto&& found : {verified_empty(s3, receipt),
                       verified_already_combined(config, s3, ledger, checker, receipt)})
    originals.insert(originals.end(), found.begin(), found.end());
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
                                     tally.state(s3, config.work_bucket, run_id, group_id, next));
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
  const auto state = tally.state(s3, config.work_bucket, run_id, group_id, next);
  return json::value_from(pipeline::DeleteResult{group_id, state.deleted, state.kept_changed,
                                                 state.failed, state.failed_keys});
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  auto seals = std::make_shared<pipeline::Seals>(pipeline::seal_key_id());
  return [config, s3, seals](const json::value& event, const runtime::InvocationContext& context) {
    return handle(*config, *s3, seals->checker(), event, common::Deadline(context));
  };
}

}  // namespace functions::delete_originals
