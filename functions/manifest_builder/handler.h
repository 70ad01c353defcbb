#pragma once
// ManifestBuilder: records S3 "object created" notifications in a DynamoDB file ledger and cuts
// them into manifests, each started as one process_manifest execution.
//
// Events:
// - an SQS batch ({"Records": [{"messageId", "body", ...}]}) whose bodies are S3 notifications:
//   plain, SNS-wrapped, or EventBridge "Object Created" (pipeline::objects_of_message). Result:
//   {"batchItemFailures": [{"itemIdentifier": messageId}]} for exactly the records it could not
//   take (SQS redelivers those, then moves them to the DLQ).
// - {"action": "flush"}: cuts what is pending for dates that are over, and for partitions whose
//   oldest pending file is older than MAX_AGE_S.
// - {"action": "sweep"}: starts manifests whose files were claimed but whose execution was never
//   started (a crash between the steps), each exactly once.
//
// The ledger (one table, keys "pk" and "sk", sparse index "open" on "open_pk"/"open_sk"):
// - a file: pk "F#<bucket>#<date>", sk its key; state PENDING → CLAIMED (with its manifest) →
//   COMPLETED (by process_manifest). A conditional put records it once: a redelivered or
//   duplicated notification changes nothing. Zero-byte objects are recorded EMPTY and never wait
//   in a manifest. While pending it is in the index under "P#<bucket>#<date>", oldest first.
// - a manifest: pk "M#<bucket>#<date>", sk its id; the files it claimed (claims and the list are
//   written in one transaction); in the index under "U#<bucket>#<date>" until its execution is
//   started, which is what the sweep looks for.
// - a partition: pk "PARTITIONS", sk "<bucket>#<date>": where flush and sweep look (no Scan).
// The date of a file is the UTC day of its event time. Every item expires TTL_DAYS after it is
// written (attribute "expires_at").
//
// Cutting a manifest: the manifest item first, then the files claimed (pending → claimed, at
// most 99 a transaction), then the manifest file (a JSON array of {key, size, etag, version_id?}
// in the work bucket), then StartExecution named after the manifest id (a retry finds
// ExecutionAlreadyExists, which is success), then the execution ARN on the manifest item.
//
// Only the buckets named in BATCHING_BUCKETS are batched: a notification for any other (the
// Control Tower archive, say, which DeleteAfterBatch would then empty, or a bucket named by a
// forged notification) is not recorded, and is counted (NotificationsRefused) and logged with its
// bucket, not retried.
//
// Environment: LEDGER_TABLE, WORK_BUCKET, STATE_MACHINE_ARN, BATCHING_BUCKETS (comma-separated;
// required); MANIFEST_SIZE (200);
// MAX_AGE_S (900); SWEEP_AFTER_S (300: a manifest unstarted this long is the sweep's);
// TTL_DAYS (30); INCLUDE_PREFIXES, EXCLUDE_PREFIXES, INCLUDE_SUFFIXES, EXCLUDE_SUFFIXES
// (comma-separated; a key must match an include when any is set, and no exclude).
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/dates.h"
#include "common/json_services.h"
#include "common/s3.h"
#include "pipeline/notifications.h"
#include "runtime/runtime.h"

namespace functions::manifest_builder {

struct Config {
  std::string table;
  std::string work_bucket;
  std::string state_machine_arn;
  std::size_t manifest_size = 200;
  std::chrono::seconds max_age{900};
  std::chrono::seconds sweep_after{300};
  std::chrono::hours ttl{30 * 24};
  std::vector<std::string> include_prefixes, exclude_prefixes, include_suffixes, exclude_suffixes;
  std::vector<std::string> batching_buckets;

  static Config from_environment();  // ConfigurationError on a missing or bad setting
};

using pipeline::CreatedObject;

struct Clients {
  common::DynamoDbClient& dynamodb;
  common::S3Client& s3;
  common::StepFunctionsClient& stepfunctions;
};

boost::json::value handle(const Config& config, Clients clients, const boost::json::value& event,
                          std::chrono::system_clock::time_point now);

runtime::Handler make_handler();

}  // namespace functions::manifest_builder
