#pragma once
// AmplifyLogExporter: stores Amplify apps' access logs in the destination bucket, for Athena.
//
// Events (statemachines/process_amplify_logs.asl.json):
// - the plan: {"time"} (EventBridge Scheduler's scheduled time: the EXPORT_DAYS whole UTC days
//   before its day) or {"from", "to"} (an operator's window, UTC seconds); answered with the
//   AmplifyPlan (pipeline/records.h): each app of AMPLIFY_APPS with its chunks of CHUNK_DAYS;
// - a chunk: {"app", "start", "end"}, answered with its AmplifyExport.
//
// A chunk is asked of GenerateAccessLogs as one range. Amplify refuses ranges it will not serve
// (BadRequestException): such a range is halved and each half asked in turn, down to
// MAX_SPLIT_DEPTH halvings; the subdivision lives here and not in the state machine, which has
// no recursion, and the halves of a chunk are written into one object in order. Each answer's
// file is read from its presigned URL in PART_BYTES ranges (four at once) and uploaded as parts
// of one multipart upload (four at once), so no file sits whole in memory and the object appears
// whole or not at all; a URL refused while it is read (expired) is TransientError.
// The object's key comes from the chunk's start (pipeline::amplify_log_key): a chunk exported
// again replaces its object, whatever halving its ranges took. Amplify reads a range's end as
// inclusive, so a chunk [start, end) is asked for up to end - 1 s: a request in the second
// `end` belongs to the next chunk only. Every range's first line is Amplify's CSV header; the
// object keeps the first one and refuses a range whose file does not start with it.
//
// An app in another account (accountId not this function's, or a roleArn given) is read as the
// role roleArn, else CROSS_ACCOUNT_ROLE_NAME in its account, through STS AssumeRole.
//
// Environment:
// - AMPLIFY_APPS (required): the configuration ({"apps": [AmplifyApp]}), "s3://bucket/key" or
//   an SSM parameter's name ("/..."), read for each plan;
// - DESTINATION_BUCKET (required), DESTINATION_PREFIX, AMPLIFY_PREFIX ("type=amplify_logs"):
//   where the objects go;
// - CHUNK_DAYS (14), EXPORT_DAYS (7), MAX_SPLIT_DEPTH (3), PART_BYTES (8 MiB, at least 5 MiB),
//   CROSS_ACCOUNT_ROLE_NAME ("amplify-log-export").
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/json/value.hpp>

#include "common/amplify.h"
#include "common/s3.h"
#include "pipeline/records.h"
#include "runtime/runtime.h"

namespace functions::amplify_log_exporter {

struct Config {
  std::string apps_source;
  std::string destination_bucket;
  std::string destination_prefix;
  std::string amplify_folder = "type=amplify_logs";
  std::chrono::seconds chunk = std::chrono::days(14);
  int export_days = 7;
  int max_split_depth = 3;
  std::uint64_t part_bytes = 8ull << 20;
  std::string role_name = "amplify-log-export";

  // ConfigurationError naming the setting for anything missing or malformed.
  static Config from_environment();
};

struct Services {
  common::S3Client& s3;
  // Amplify as the app's account allows it (see above).
  std::function<common::AmplifyClient(const pipeline::AmplifyApp&)> amplify_for;
  // The configuration's text, read from AMPLIFY_APPS.
  std::function<std::string()> read_apps;
};

// The plan for a scheduled time or an operator's window; InvalidInput naming what is wrong in
// the event or the configuration.
pipeline::AmplifyPlan plan(const Config& config, Services services,
                           const boost::json::value& event);

// One chunk into its object. runtime::InvalidInput when Amplify refuses a range even after
// MAX_SPLIT_DEPTH halvings (its message kept); VerificationFailed for a file that is not
// Amplify's CSV. Nothing is written then.
pipeline::AmplifyExport export_chunk(const Config& config, Services services,
                                     const pipeline::AmplifyChunk& chunk);

boost::json::value handle(const Config& config, Services services, const boost::json::value& event);

// The role an app in another account is read as; empty for this function's own account.
std::string role_for(const Config& config, const pipeline::AmplifyApp& app,
                     const std::string& function_arn);

runtime::Handler make_handler();

}  // namespace functions::amplify_log_exporter
