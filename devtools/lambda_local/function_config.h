#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <string>

namespace devtools {

struct FunctionConfig {
  std::string name;
  std::filesystem::path bootstrap;
  std::chrono::milliseconds timeout{3000};
  int memory_mb = 128;
  int max_concurrency = 4;  // warm sandboxes kept for `serve`
  std::string log_format = "Text";
  std::string log_level;  // empty: leave AWS_LAMBDA_LOG_LEVEL unset, as Lambda does for Text
  std::string log_group;  // LoggingConfig.LogGroup; empty: Lambda's default /aws/lambda/<name>
  std::map<std::string, std::string> environment;
};

struct EmulatorConfig {
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  std::map<std::string, FunctionConfig> functions;
};

// Reads a config file:
//   {"region": "...", "account_id": "...", "functions": {"echo": {"bootstrap": "build/bin/echo",
//    "timeout": 3, "memory": 128, "max_concurrency": 4, "log_format": "JSON",
//    "log_level": "DEBUG", "log_group": "/aws/lambda/stack/echo", "environment": {"K": "V"}}}}
// Relative bootstrap paths are taken from the config file's folder. Throws std::runtime_error
// with the offending field named.
EmulatorConfig load_config(const std::filesystem::path& path);

// Region from AWS_REGION / AWS_DEFAULT_REGION, else us-east-1.
std::string region_from_environment();

// The name in `name`, `arn:aws:lambda:r:a:function:name[:qualifier]` or `a:function:name`.
std::string function_name_from_identifier(const std::string& identifier);

}  // namespace devtools
