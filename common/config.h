#pragma once
// Where and as whom to call AWS: credentials, region and endpoints, from the environment the way
// the AWS SDKs read it.
#include <optional>
#include <string>
#include <string_view>

namespace common {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (what Lambda provides), else the
// profile AWS_PROFILE (default "default") of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) and then of the config file (AWS_CONFIG_FILE,
// ~/.aws/config): its keys, or the output of its credential_process. A profile that uses IAM
// Identity Center (SSO) or assumes a role is not resolved here (that needs the SSO portal and STS):
// the error says how to export its credentials. Throws runtime::ConfigurationError naming what
// was looked at.
Credentials load_credentials();

// AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region`; throws ConfigurationError.
std::string load_region();

struct Endpoint {
  std::string scheme;  // "https" or "http"
  std::string host;    // with :port when one was given
  std::string base_path;
  bool overridden = false;  // from AWS_ENDPOINT_URL*: S3 then uses path-style addressing
};

// The endpoint of a service: AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_GLUE, AWS_ENDPOINT_URL_SQS),
// else AWS_ENDPOINT_URL, else the service's regional AWS host. `env_name` is the SERVICE part,
// `host_prefix` the AWS host's first label (s3, dynamodb, states, glue, sqs).
Endpoint resolve_endpoint(std::string_view env_name, std::string_view host_prefix,
                          const std::string& region);

// Parses scheme://host[:port][/path]; throws ConfigurationError on anything else.
Endpoint parse_endpoint_url(const std::string& url);

// Reads a value from an INI-style AWS shared file section; nullopt when absent.
std::optional<std::string> shared_file_value(const std::string& path, const std::string& section,
                                             const std::string& key);

}  // namespace common
