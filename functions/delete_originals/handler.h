#pragma once
// DeleteOriginals: deletes the originals a receipt says were combined, and nothing else.
//
// Event: CombineLogFiles' result ({"run_id", "receipt": FileRef to a pipeline::Receipt, ...}), and
// a pipeline::DeleteContinuation as "continuation" when resuming. Result: the receipt's
// "group_id" with "deleted", "failed", "kept_changed" and "failed_keys"? (a FileRef to the keys
// that could not be deleted), or the event with its "continuation" near the deadline.
//
// Nothing a writer of the work bucket can forge decides a deletion. The receipt is read only
// from WORK_BUCKET at this run's receipts folder (pipeline/layout.h), its outputs only from
// DESTINATION_BUCKET, each output's index only from the group's own folder of the ledger, and
// the receipt and each index must carry CombineLogFiles' seal for its place (pipeline/seal.h).
// Then, as a defect of CombineLogFiles' own must not delete anything either:
// - each output is in S3 as its index says (size, ETag, the version written) and is read back,
//   every original's range hashed against the SHA-256 its index records and, where the original's
//   ETag is an MD5 (single-part, not SSE-KMS/DSSE/SSE-C), against that MD5: S3's own word;
// - an "empty" original goes only if S3 says that version is empty;
// - an original the receipt says an earlier run combined goes only if the group's sealed ledger
//   places it in an output that stands in the destination as recorded.
// Anything else is VerificationFailed and nothing is deleted. Then, per original:
// - versioned bucket (the index names a version): exactly that version goes. Every other version
//   is an original of its own (GetFiles lists them all), combined and deleted in its own right or
//   left in place; a version written after listing survives;
// - unversioned bucket: the key is deleted only if its etag is still the combined one (a
//   conditional delete: DeleteObjects carries the etag, so an overwrite at any moment survives).
// DeleteObjects takes 1,000 keys a request with several requests in flight; keys S3 refuses are
// retried twice more, then reported (they stay in place: nothing is lost by leaving them).
//
// Environment: WORK_BUCKET, DESTINATION_BUCKET, SEAL_KEY_ID (required), DELETE_CONCURRENCY (8),
// DELETE_BATCH_KEYS (1000: keys per DeleteObjects request), DELETE_KEYS_PER_SECOND (3500, S3's
// write rate per prefix: the deletes keep to it rather than be answered 503 SlowDown and back off;
// 0 sends as fast as the concurrency allows); DEADLINE_MARGIN_MS and MAX_INVOCATION_MS as for every
// function (common/deadline.h).
#include "common/deadline.h"
#include "common/s3.h"
#include "pipeline/seal.h"
#include "runtime/runtime.h"

namespace functions::delete_originals {

struct Config {
  std::string work_bucket;
  std::string destination_bucket;
  std::size_t delete_concurrency = 8;
  std::size_t keys_per_request = common::kMaxDeleteKeys;
  std::size_t keys_per_second = static_cast<std::size_t>(common::kPrefixWritesPerSecond);
  static Config from_environment();
};

boost::json::value handle(const Config& config, common::S3Client& s3,
                          pipeline::SealChecker& checker, const boost::json::value& event,
                          const common::Deadline& deadline);

runtime::Handler make_handler();

}  // namespace functions::delete_originals
