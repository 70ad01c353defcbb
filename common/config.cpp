#include "common/config.h"

#include <stdio.h>
#include <sys/wait.h>

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <fstream>

#include "common/settings.h"
#include "runtime/errors.h"

namespace common {

namespace {

std::string home_file(const char* override_variable, const char* relative) {
  std::string path = setting(override_variable);
  if (!path.empty()) return path;
  const std::string home = setting("HOME");
  return home.empty() ? std::string() : home + "/" + relative;
}

std::string profile_name() {
  const std::string profile = setting("AWS_PROFILE");
  return profile.empty() ? "default" : profile;
}

// In ~/.aws/config every profile but the default is written [profile NAME].
std::string config_section(const std::string& profile) {
  return profile == "default" ? profile : "profile " + profile;
}

// The way to give this client a profile it cannot read itself (IAM Identity Center, assume-role):
// what the error says when only such a profile is configured.
std::string export_advice(const std::string& profile) {
  const std::string option = profile == "default" ? "" : " --profile " + profile;
  return "export its credentials first: eval \"$(aws configure export-credentials" + option +
         " --format env)\" (AWS CLI v2), or eval \"$(tools/export-credentials" + option +
         ")\"; or give the profile credential_process = aws configure export-credentials" + option +
         " --format process";
}

std::string run_for_output(const std::string& command, int& status) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return {};
  }
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, n);
  status = ::pclose(pipe);
  return output;
}

// The documented credential_process contract: a JSON object with Version 1, AccessKeyId,
// SecretAccessKey and optionally SessionToken and Expiration on stdout, exit status 0.
Credentials from_credential_process(const std::string& command, const std::string& profile) {
  int status = 0;
  const std::string output = run_for_output(command, status);
  const std::string where = "credential_process of profile '" + profile + "'";
  if (status != 0) {
    throw runtime::ConfigurationError(where + " failed (exit status " +
                                      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                      ")");
  }
  boost::system::error_code error;
  const auto document = boost::json::parse(output, error);
  const auto* object = error ? nullptr : document.if_object();
  const auto text = [&](const char* key) -> std::string {
    const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
  };
  const auto* version = object != nullptr ? object->if_contains("Version") : nullptr;
  Credentials credentials{text("AccessKeyId"), text("SecretAccessKey"), text("SessionToken")};
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1 ||
      credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw runtime::ConfigurationError(
        where + " did not print a JSON object with Version 1, AccessKeyId and SecretAccessKey");
  }
  return credentials;
}

}  // namespace

std::optional<std::string> shared_file_value(const std::string& path, const std::string& section,
                                             const std::string& key) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    const std::string text = trimmed(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      in_section = trimmed(std::string_view(text).substr(1, text.size() - 2)) == section;
      continue;
    }
    if (!in_section) continue;
    const auto equals = text.find('=');
    if (equals != std::string::npos && trimmed(std::string_view(text).substr(0, equals)) == key) {
      return trimmed(std::string_view(text).substr(equals + 1));
    }
  }
  return std::nullopt;
}

Credentials load_credentials() {
  Credentials credentials{setting("AWS_ACCESS_KEY_ID"), setting("AWS_SECRET_ACCESS_KEY"),
                          setting("AWS_SESSION_TOKEN")};
  if (!credentials.access_key_id.empty() && !credentials.secret_access_key.empty()) {
    return credentials;
  }
  const std::string profile = profile_name();
  const std::string files[][2] = {
      {home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"), profile},
      {home_file("AWS_CONFIG_FILE", ".aws/config"), config_section(profile)}};
  for (const auto& [path, section] : files) {
    if (path.empty()) continue;
    auto key = shared_file_value(path, section, "aws_access_key_id");
    auto secret = shared_file_value(path, section, "aws_secret_access_key");
    if (key && secret) {
      return Credentials{*key, *secret,
                         shared_file_value(path, section, "aws_session_token").value_or("")};
    }
    if (auto command = shared_file_value(path, section, "credential_process")) {
      return from_credential_process(*command, profile);
    }
  }
  const std::string& config = files[1][0];
  for (const char* key : {"sso_session", "sso_start_url", "role_arn", "credential_source"}) {
    if (!config.empty() && shared_file_value(config, config_section(profile), key)) {
      throw runtime::ConfigurationError(
          "profile '" + profile + "' gets its credentials from " +
          (key[0] == 's' ? "IAM Identity Center (SSO)" : "a role") +
          ", which this client does not call itself: " + export_advice(profile));
    }
  }
  throw runtime::ConfigurationError(
      "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile '" +
      profile + "' in the shared credentials or config file");
}

std::string load_region() {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const std::string region = setting(name);
    if (!region.empty()) return region;
  }
  const std::string path = home_file("AWS_CONFIG_FILE", ".aws/config");
  if (auto region = shared_file_value(path, config_section(profile_name()), "region")) {
    return *region;
  }
  throw runtime::ConfigurationError("no AWS region: set AWS_REGION (Lambda sets it for you)");
}

Endpoint parse_endpoint_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    throw runtime::ConfigurationError("endpoint URL needs a scheme (http:// or https://): " + url);
  }
  Endpoint endpoint;
  endpoint.scheme = url.substr(0, scheme_end);
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    throw runtime::ConfigurationError("endpoint URL scheme must be http or https: " + url);
  }
  std::string rest = url.substr(scheme_end + 3);
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    endpoint.base_path = rest.substr(slash);
    while (!endpoint.base_path.empty() && endpoint.base_path.back() == '/') {
      endpoint.base_path.pop_back();
    }
    rest.resize(slash);
  }
  if (rest.empty()) throw runtime::ConfigurationError("endpoint URL has no host: " + url);
  endpoint.host = rest;
  endpoint.overridden = true;
  return endpoint;
}

Endpoint resolve_endpoint(std::string_view env_name, std::string_view host_prefix,
                          const std::string& region) {
  const std::string specific = setting(("AWS_ENDPOINT_URL_" + std::string(env_name)).c_str());
  if (!specific.empty()) return parse_endpoint_url(specific);
  const std::string general = setting("AWS_ENDPOINT_URL");
  if (!general.empty()) return parse_endpoint_url(general);
  const std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return Endpoint{"https", std::string(host_prefix) + "." + region + suffix, "", false};
}

}  // namespace common
