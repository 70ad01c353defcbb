#include "devtools/lambda_local/function_config.h"

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace devtools {

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const boost::json::object& as_object(const boost::json::value& value, const std::string& where) {
  if (!value.is_object()) throw std::runtime_error(where + " must be an object");
  return value.get_object();
}

std::string string_field(const boost::json::object& object, std::string_view key,
                         const std::string& where, std::string fallback) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  if (!value->is_string())
    throw std::runtime_error(where + "." + std::string(key) + " must be a string");
  return std::string(value->get_string());
}

double number_field(const boost::json::object& object, std::string_view key,
                    const std::string& where, double fallback) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  if (!value->is_number())
    throw std::runtime_error(where + "." + std::string(key) + " must be a number");
  return value->to_number<double>();
}

}  // namespace

std::string region_from_environment() {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "us-east-1";
}

EmulatorConfig load_config(const std::filesystem::path& path) {
  boost::system::error_code error;
  const boost::json::value root = boost::json::parse(read_file(path), error);
  if (error) throw std::runtime_error(path.string() + " is not valid JSON: " + error.message());
  const auto& top = as_object(root, path.string());

  EmulatorConfig config;
  config.region = string_field(top, "region", "config", region_from_environment());
  config.account_id = string_field(top, "account_id", "config", config.account_id);
  const auto* functions = top.if_contains("functions");
  if (functions == nullptr) throw std::runtime_error(path.string() + " has no \"functions\"");
  for (const auto& [key, value] : as_object(*functions, "functions")) {
    const std::string where = "functions." + std::string(key);
    const auto& object = as_object(value, where);
    FunctionConfig function;
    function.name = key;
    const std::string bootstrap = string_field(object, "bootstrap", where, "");
    if (bootstrap.empty()) throw std::runtime_error(where + ".bootstrap is required");
    function.bootstrap = std::filesystem::path(bootstrap).is_absolute()
                             ? std::filesystem::path(bootstrap)
                             : path.parent_path() / bootstrap;
    function.timeout = std::chrono::milliseconds(
        static_cast<long long>(number_field(object, "timeout", where, 3) * 1000));
    function.memory_mb = static_cast<int>(number_field(object, "memory", where, 128));
    function.max_concurrency = static_cast<int>(number_field(object, "max_concurrency", where, 4));
    function.log_format = string_field(object, "log_format", where, "Text");
    function.log_level = string_field(object, "log_level", where, "");
    function.log_group = string_field(object, "log_group", where, "");
    if (const auto* environment = object.if_contains("environment")) {
      for (const auto& [name, setting] : as_object(*environment, where + ".environment")) {
        if (!setting.is_string())
          throw std::runtime_error(where + ".environment values must be strings");
        function.environment[std::string(name)] = std::string(setting.get_string());
      }
    }
    if (function.timeout.count() <= 0 || function.max_concurrency <= 0) {
      throw std::runtime_error(where + ": timeout and max_concurrency must be positive");
    }
    config.functions[function.name] = std::move(function);
  }
  return config;
}

std::string function_name_from_identifier(const std::string& identifier) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = identifier.find(':', start);
    parts.push_back(identifier.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() >= 7 && parts[0] == "arn") return parts[6];       // full ARN
  if (parts.size() >= 3 && parts[1] == "function") return parts[2];  // partial ARN
  if (parts.size() == 2) return parts[0];                            // name:qualifier
  return identifier;
}

}  // namespace devtools
