#include "functions/log_forwarder/handler.h"

#include <algorithm>

#include "runtime/errors.h"

namespace functions::log_forwarder {

namespace {

// S3 accepts a body of any size, but no ingestion endpoint takes more than some tens of MiB.
constexpr std::uint64_t kMaxBatchBytes = 64ull << 20;
constexpr std::uint64_t kMaxBatchLines = 1'000'000;

std::string name_of(const std::vector<std::string>& allowed) {
  std::string text;
  for (const auto& value : allowed) text += (text.empty() ? "" : ", ") + value;
  return text;
}

pipeline::NonJsonLines non_json_setting() {
  const std::string value = common::trimmed(common::setting("NON_JSON_LINES", "send"));
  if (value == "send") return pipeline::NonJsonLines::kSend;
  if (value == "wrap") return pipeline::NonJsonLines::kWrap;
  if (value == "drop") return pipeline::NonJsonLines::kDrop;
  throw runtime::ConfigurationError("NON_JSON_LINES must be one of " +
                                    name_of({"send", "wrap", "drop"}) + ", not '" + value + "'");
}

std::uint64_t at_most(const char* name, std::uint64_t value, std::uint64_t maximum) {
  if (value > maximum) {
    throw runtime::ConfigurationError(std::string(name) + " is " + std::to_string(value) +
                                      "; at most " + std::to_string(maximum));
  }
  return value;
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.sources = common::location_list_setting("SOURCES");
  if (config.sources.empty()) throw runtime::ConfigurationError("SOURCES is required");
  for (const auto& url : common::list_setting("ENDPOINTS")) {
    // Named by its place, not its text: a URL may carry a key in its query.
    const std::string which = "ENDPOINTS: item " + std::to_string(config.endpoints.size() + 1);
    common::Endpoint endpoint;
    try {
      endpoint = common::parse_endpoint_url(url);
    } catch (const runtime::ConfigurationError&) {
      throw runtime::ConfigurationError(which + " is not an http:// or https:// URL with a host");
    }
    if (endpoint.host.find('@') != std::string::npos) {
      throw runtime::ConfigurationError(
          which +
          " carries credentials; give the token as AUTH_TOKEN_SECRET or AUTH_TOKEN_PARAMETER");
    }
    config.endpoints.push_back(url);
  }
  if (config.endpoints.empty()) throw runtime::ConfigurationError("ENDPOINTS is required");
  config.limits.max_lines =
      at_most("BATCH_MAX_LINES", common::number_setting("BATCH_MAX_LINES", 1000), kMaxBatchLines);
  config.limits.max_bytes = at_most(
      "BATCH_MAX_BYTES", common::number_setting("BATCH_MAX_BYTES", 1 << 20, 1024), kMaxBatchBytes);
  config.limits.max_line_bytes = common::number_setting("MAX_LINE_BYTES", 256 << 10);
  if (config.limits.max_line_bytes >= config.limits.max_bytes) {
    throw runtime::ConfigurationError(
        "MAX_LINE_BYTES (" + std::to_string(config.limits.max_line_bytes) +
        ") must be less than BATCH_MAX_BYTES (" + std::to_string(config.limits.max_bytes) +
        "): a line must fit a batch");
  }
  config.non_json = non_json_setting();
  config.gzip_requests = common::flag_setting("GZIP_REQUESTS", true);
  config.requests_in_flight = common::number_setting("REQUESTS_IN_FLIGHT", 4);
  config.endpoint_rest = std::chrono::seconds(common::number_setting("ENDPOINT_REST_S", 30, 0));
  config.auth_token_secret = common::trimmed(common::setting("AUTH_TOKEN_SECRET"));
  config.auth_token_parameter = common::trimmed(common::setting("AUTH_TOKEN_PARAMETER"));
  if (!config.auth_token_secret.empty() && !config.auth_token_parameter.empty()) {
    throw runtime::ConfigurationError(
        "set AUTH_TOKEN_SECRET or AUTH_TOKEN_PARAMETER, not both: which token is meant?");
  }
  config.auth_header = common::trimmed(common::setting("AUTH_HEADER", config.auth_header));
  config.auth_scheme = common::trimmed(common::setting("AUTH_SCHEME", config.auth_scheme));
  if (config.auth_header.empty() ||
      config.auth_header.find_first_of(" :\r\n") != std::string::npos) {
    throw runtime::ConfigurationError("AUTH_HEADER must be a header name, not '" +
                                      config.auth_header + "'");
  }
  return config;
}

bool Config::forwards(const std::string& bucket, const std::string& key) const {
  return std::any_of(sources.begin(), sources.end(), [&](const common::S3Location& source) {
    return source.bucket == bucket && key.starts_with(source.prefix);
  });
}

}  // namespace functions::log_forwarder
