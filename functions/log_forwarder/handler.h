#pragma once
// LogForwarder: sends the lines of each new log object to HTTP ingestion endpoints (issue 16;
// what is here so far is its settings).
//
// Environment:
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

#include "common/config.h"
#include "common/settings.h"
#include "pipeline/line_batches.h"

namespace functions::log_forwarder {

struct Config {
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

}  // namespace functions::log_forwarder
