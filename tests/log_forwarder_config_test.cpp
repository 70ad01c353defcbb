// LogForwarder's settings: what it accepts, and a clear ConfigurationError naming the setting for
// anything else, before it forwards a line. (CTest runs each test in its own process.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "functions/log_forwarder/handler.h"
#include "runtime/errors.h"

namespace {

using functions::log_forwarder::Config;

constexpr const char* kSettings[] = {
    "DEAD_LETTER_QUEUE_URL", "SOURCES",         "ENDPOINTS",         "BATCH_MAX_LINES",
    "BATCH_MAX_BYTES",       "MAX_LINE_BYTES",  "NON_JSON_LINES",    "GZIP_REQUESTS",
    "REQUESTS_IN_FLIGHT",    "ENDPOINT_REST_S", "AUTH_TOKEN_SECRET", "AUTH_TOKEN_PARAMETER",
    "AUTH_HEADER",           "AUTH_SCHEME"};

void environment(const std::map<std::string, std::string>& values) {
  for (const char* name : kSettings) unsetenv(name);
  for (const auto& [name, value] : values) setenv(name.c_str(), value.c_str(), 1);
}

// The error's message, or "accepted".
std::string refusal(const std::map<std::string, std::string>& values) {
  environment(values);
  try {
    Config::from_environment();
  } catch (const runtime::ConfigurationError& error) {
    return error.what();
  }
  return "accepted";
}

const std::map<std::string, std::string> kMinimal = {
    {"DEAD_LETTER_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/forwarder-dlq"},
    {"SOURCES", "s3://zscaler-logs/web/"},
    {"ENDPOINTS", "https://ingest.example.com:8443/v1/logs"}};

std::map<std::string, std::string> with(const std::string& name, const std::string& value) {
  auto values = kMinimal;
  values[name] = value;
  return values;
}

TEST(LogForwarderConfig, TheDefaultsAndAnS3UrlSource) {
  environment(kMinimal);
  const Config config = Config::from_environment();
  ASSERT_EQ(config.sources.size(), 1u);
  EXPECT_EQ(config.sources[0].bucket, "zscaler-logs") << "never a bucket named s3:";
  EXPECT_EQ(config.sources[0].prefix, "web/");
  EXPECT_EQ(config.endpoints, std::vector<std::string>{"https://ingest.example.com:8443/v1/logs"});
  EXPECT_EQ(config.limits.max_lines, 1000u);
  EXPECT_EQ(config.limits.max_bytes, 1u << 20);
  EXPECT_EQ(config.non_json, pipeline::NonJsonLines::kSend);
  EXPECT_TRUE(config.gzip_requests);
  EXPECT_EQ(config.requests_in_flight, 4u);
  EXPECT_TRUE(config.forwards("zscaler-logs", "web/2026/03/05/a.gz"));
  EXPECT_FALSE(config.forwards("zscaler-logs", "dns/2026/03/05/a.gz"));
  EXPECT_FALSE(config.forwards("other-logs", "web/a.gz"));
}

TEST(LogForwarderConfig, EachBadSettingIsNamed) {
  auto without = [](const char* name) {
    auto values = kMinimal;
    values.erase(name);
    return values;
  };
  EXPECT_NE(refusal(without("DEAD_LETTER_QUEUE_URL")).find("DEAD_LETTER_QUEUE_URL"),
            std::string::npos);
  EXPECT_EQ(refusal(without("SOURCES")), "SOURCES is required");
  EXPECT_EQ(refusal(without("ENDPOINTS")), "ENDPOINTS is required");
  EXPECT_NE(refusal(with("SOURCES", "s3:/zscaler-logs")).find("SOURCES: 's3:/zscaler-logs'"),
            std::string::npos);
  EXPECT_EQ(refusal(with("ENDPOINTS", "https://a.example.com,ftp://b.example.com")),
            "ENDPOINTS: item 2 is not an http:// or https:// URL with a host");
  EXPECT_EQ(refusal(with("ENDPOINTS", "https://")),
            "ENDPOINTS: item 1 is not an http:// or https:// URL with a host");
  const std::string with_key = refusal(with("ENDPOINTS", "https://user:s3cr3t@a.example.com/"));
  EXPECT_EQ(with_key.find("s3cr3t"), std::string::npos) << "a credential is never repeated";
  EXPECT_NE(with_key.find("carries credentials"), std::string::npos) << with_key;
  EXPECT_EQ(refusal(with("BATCH_MAX_LINES", "0")),
            "BATCH_MAX_LINES must be a whole number of at least 1, not '0'");
  EXPECT_EQ(refusal(with("BATCH_MAX_BYTES", "1000000000")),
            "BATCH_MAX_BYTES is 1000000000; at most 67108864");
  EXPECT_EQ(refusal(with("MAX_LINE_BYTES", "2000000")),
            "MAX_LINE_BYTES (2000000) must be less than BATCH_MAX_BYTES (1048576): a line must fit "
            "a batch");
  EXPECT_EQ(refusal(with("NON_JSON_LINES", "ignore")),
            "NON_JSON_LINES must be one of send, wrap, drop, not 'ignore'");
  auto both = kMinimal;
  both["AUTH_TOKEN_SECRET"] = "ingest-token";
  both["AUTH_TOKEN_PARAMETER"] = "/ingest/token";
  EXPECT_EQ(refusal(both),
            "set AUTH_TOKEN_SECRET or AUTH_TOKEN_PARAMETER, not both: which token is meant?");
  EXPECT_EQ(refusal(with("AUTH_HEADER", "X-Token: x")),
            "AUTH_HEADER must be a header name, not 'X-Token: x'");
}

}  // namespace
