#pragma once
// LogForwarder: sends the lines of each new log object to HTTP ingestion endpoints.
//
// Events: an SQS batch whose bodies are S3 "object created" notifications (pipeline/notifications).
// Each object under SOURCES is read in 8 MiB ranges (the version announced, else the ETag
// announced: an object overwritten since is skipped, its own notification follows), its text
// decided by its magic bytes (common::ContentStream), cut into batches (pipeline::LineBatcher)
// and delivered (common::HttpDelivery) before the invocation's deadline. Result:
// {"batchItemFailures": [...]} naming the records to redeliver: one whose batches did not all
// arrive. A poison object (not text, a line too long) is sent to DEAD_LETTER_QUEUE_URL with its
// reason as a message attribute and not redelivered. Delivery is at least once: a redelivered
// record sends its batches again under the same ids.
//
// The backfill (statemachines/forward_backfill.asl.json) sends two more: its request
// ({"source", "from", "to"}), answered with the plan it checked, and each batch of its listing
// ({"BatchInput", "Items"}), forwarded as above and answered with what it forwarded
// (pipeline/records.h).
//
// Environment:
// - DEAD_LETTER_QUEUE_URL (required): where a poison record goes, with its reason;
// - SOURCES (required): the buckets and prefixes whose objects are forwarded, comma-separated,
//   each "s3://bucket/prefix", "bucket/prefix" or "bucket";
// - ENDPOINTS (required): the endpoints' URLs, comma-separated, http:// or https://;
// - BATCH_MAX_LINES (1000) and BATCH_MAX_BYTES (1 MiB): a request's body at most; MAX_LINE_BYTES
//   (256 KiB): a longer line fails its object, and must fit a batch;
// - NON_JSON_LINES: "send" (nothing is checked, the default), "wrap" ({"raw": line}) or "drop";
// - GZIP_REQUESTS ("true"): request bodies are sent gzip-encoded;
// - REQUESTS_IN_FLIGHT (4): requests under way to each endpoint at once;
// - ENDPOINT_REST_S (30): how long an endpoint that keeps failing is left out of the rotation;
// - AUTH_TOKEN_SECRET (a Secrets Manager secret) or AUTH_TOKEN_PARAMETER (an SSM SecureString),
//   at most one, read at initialisation and never logged; AUTH_HEADER ("Authorization") and
//   AUTH_SCHEME ("Bearer") say how it is sent.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "common/config.h"
#include "common/deadline.h"
#include "common/http_delivery.h"
#include "common/s3.h"
#include "common/settings.h"
#include "common/sqs.h"
#include "pipeline/line_batches.h"
#include "pipeline/notifications.h"
#include "pipeline/records.h"
#include "runtime/runtime.h"

namespace functions::log_forwarder {

struct Config {
  std::string dead_letter_queue_url;
  std::vector<common::S3Location> sources;
  std::vector<std::string> endpoints;
  pipeline::BatchLimits limits;
  pipeline::NonJsonLines non_json = pipeline::NonJsonLines::kSend;
  bool gzip_requests = true;
  std::size_t requests_in_flight = 4;
  std::chrono::seconds endpoint_rest{30};
  std::string auth_token_secret;
  std::string auth_token_parameter;
  std::string auth_header = "Authorization";
  std::string auth_scheme = "Bearer";

  // ConfigurationError naming the setting for anything missing, malformed or contradictory.
  static Config from_environment();
  // Whether an object is under one of the sources.
  bool forwards(const std::string& bucket, const std::string& key) const;
};

struct Clients {
  common::S3Client& s3;
  common::SqsClient& sqs;
  common::HttpDelivery& delivery;
};

struct Forwarded {
  std::uint64_t lines = 0;    // numbered, empty ones included
  std::uint64_t batches = 0;  // delivered
  std::uint64_t dropped = 0;  // not JSON, under NON_JSON_LINES=drop
  bool superseded = false;    // overwritten since its notification: not read
};

// One object to the endpoints. common::ContentRefused or runtime::InvalidInput for a poison
// object; runtime::Error (TransientError) naming why when a batch was not delivered by `deadline`.
Forwarded forward_object(const Config& config, Clients clients,
                         const pipeline::CreatedObject& object,
                         std::chrono::steady_clock::time_point deadline);

// A backfill's request checked against SOURCES, its times in UTC; InvalidInput naming what is
// wrong (the state machine then fails before listing anything).
pipeline::BackfillPlan plan_backfill(const Config& config,
                                     const pipeline::BackfillRequest& request);

// A batch of the backfill's listing: each item modified within the plan's window and under
// SOURCES forwarded (its listed ETag read), poison ones to the dead-letter queue; runtime::Error
// when a batch was not delivered, so the Map retries the whole batch under the same ids.
pipeline::BackfillResult forward_listed(const Config& config, Clients clients,
                                        const pipeline::BackfillBatch& batch,
                                        std::chrono::steady_clock::time_point deadline);

// An SQS batch, a backfill's request or a batch of its listing, told apart by their fields.
boost::json::value handle(const Config& config, Clients clients, const boost::json::value& event,
                          const common::Deadline& deadline);

runtime::Handler make_handler();

}  // namespace functions::log_forwarder
