// lambda-local: runs our bootstraps the way Lambda does, without Docker.
//   lambda-local invoke FUNCTION EVENT_FILE [options]   replay one event, print the response
//   lambda-local serve [--port P] [--upstream URL]       Lambda Invoke API (+ forwarding to moto)
#include <signal.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "devtools/lambda_local/function_config.h"
#include "devtools/lambda_local/invoke_api.h"
#include "devtools/lambda_local/sandbox.h"

namespace fs = std::filesystem;
using namespace devtools;

namespace {

constexpr const char* kUsage = R"(usage:
  lambda-local invoke FUNCTION EVENT_FILE [--config FILE] [--timeout SECONDS] [--memory MB]
                      [--env NAME=VALUE]... [--env-vars FILE] [--log-format JSON|Text]
                      [--log-level LEVEL] [--no-trace]
  lambda-local serve [--port PORT] [--host HOST] [--upstream http://HOST:PORT] [--config FILE]
                     [--log-dir DIR]

FUNCTION is a name from the config file (--config, else $LAMBDA_LOCAL_CONFIG, else the running
local stack's build/local-stack/functions.json; "GetFiles" finds "GetFilesFunction"), a path to a
bootstrap, or the name of an executable beside lambda-local (build/bin). EVENT_FILE '-' reads stdin;
${NAME} in the event is replaced by the function's environment variable NAME (WORK_BUCKET...).
invoke prints the response (or the error document) on stdout and the function's logs on stderr;
it exits 1 when the function failed, 2 on a usage error. --env-vars reads `sam local invoke
--env-vars` files ({"Parameters": {...every function...}, "GetFilesFunction": {...}}); --env wins.
Without a local stack or --config the function calls real AWS as you: with your environment's keys,
or else your profile's (its keys or its credential_process), given to it as Lambda gives a role's.
serve prints "lambda-local serving http://HOST:PORT" once it listens, and stops on SIGINT/SIGTERM;
with --log-dir each function logs to DIR/NAME.log (its own log group), else all to stderr.
)";

struct Options {
  std::vector<std::string> positional;
  std::string config_path;
  std::optional<double> timeout_s;
  std::optional<int> memory_mb;
  std::vector<std::pair<std::string, std::string>> environment;
  std::string env_vars_path;
  std::string log_format;
  std::string log_level;
  bool trace = true;
  int port = 0;
  std::string host = "127.0.0.1";
  std::string upstream;
  std::string log_directory;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "lambda-local: " << message << "\n\n" << kUsage;
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 2; i < argc; ++i) {
    const std::string argument = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(argument + " needs a value");
      return argv[++i];
    };
    try {
      if (argument == "--config")
        options.config_path = value();
      else if (argument == "--timeout")
        options.timeout_s = std::stod(value());
      else if (argument == "--memory")
        options.memory_mb = std::stoi(value());
      else if (argument == "--log-format")
        options.log_format = value();
      else if (argument == "--log-level")
        options.log_level = value();
      else if (argument == "--no-trace")
        options.trace = false;
      else if (argument == "--port")
        options.port = std::stoi(value());
      else if (argument == "--host")
        options.host = value();
      else if (argument == "--upstream")
        options.upstream = value();
      else if (argument == "--log-dir")
        options.log_directory = value();
      else if (argument == "--env-vars")
        options.env_vars_path = value();
      else if (argument == "--env") {
        const std::string setting = value();
        const auto equals = setting.find('=');
        if (equals == std::string::npos) usage_error("--env takes NAME=VALUE, got " + setting);
        options.environment.emplace_back(setting.substr(0, equals), setting.substr(equals + 1));
      } else if (argument == "-h" || argument == "--help") {
        std::cout << kUsage;
        std::exit(0);
      } else if (argument.starts_with("--")) {
        usage_error("unknown option " + argument);
      } else {
        options.positional.push_back(argument);
      }
    } catch (const std::logic_error&) {
      usage_error("bad value for " + argument);
    }
  }
  if (options.config_path.empty()) {
    if (const char* path = std::getenv("LAMBDA_LOCAL_CONFIG")) options.config_path = path;
  }
  return options;
}

// The local stack's functions while it runs (tools/local-stack's default state directory, as
// `./deploy --local` starts it): events replay against it without naming its config.
std::string running_local_stack_config(const fs::path& self_directory) {
  const fs::path state = self_directory.parent_path() / "local-stack";
  std::ifstream stack(state / "stack.json");
  if (!stack) return {};
  boost::system::error_code error;
  const auto document =
      boost::json::parse(std::string((std::istreambuf_iterator<char>(stack)), {}), error);
  const auto* pid = !error && document.is_object()
                        ? document.get_object().if_contains("lambda_local_pid")
                        : nullptr;
  if (pid == nullptr || !pid->is_int64() || pid->get_int64() <= 0 ||
      ::kill(static_cast<pid_t>(pid->get_int64()), 0) != 0) {
    return {};
  }
  std::cerr << "lambda-local: the local stack's functions (" << (state / "functions.json").string()
            << ")\n";
  return (state / "functions.json").string();
}

EmulatorConfig load_or_default(const Options& options) {
  if (options.config_path.empty()) {
    EmulatorConfig config;
    config.region = region_from_environment();
    return config;
  }
  try {
    return load_config(options.config_path);
  } catch (const std::exception& error) {
    usage_error(error.what());
  }
}

FunctionConfig resolve_function(const std::string& name, const EmulatorConfig& config,
                                const fs::path& self_directory) {
  for (const std::string& key : {name, name + "Function"}) {
    if (const auto found = config.functions.find(key); found != config.functions.end()) {
      return found->second;
    }
  }
  FunctionConfig function;
  const fs::path candidates[] = {fs::path(name), self_directory / name};
  for (const fs::path& candidate : candidates) {
    if (candidate.has_parent_path() && fs::is_regular_file(candidate) &&
        access(candidate.c_str(), X_OK) == 0) {
      function.name = candidate.filename().string();
      function.bootstrap = fs::absolute(candidate);
      return function;
    }
  }
  std::string known;
  for (const auto& [known_name, unused] : config.functions) known += " " + known_name;
  usage_error("unknown function '" + name + "' (not in the config" +
              (known.empty() ? std::string() : ":" + known) + ", no executable of that name)");
}

std::string read_event(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) usage_error("cannot read event file " + path);
    text << in.rdbuf();
  }
  return text.str();
}

// ${NAME} → the function's NAME, so one sample event serves every stack.
std::string with_environment(std::string event, const FunctionConfig& function) {
  for (std::size_t at = event.find("${"); at != std::string::npos; at = event.find("${", at)) {
    const auto end = event.find('}', at);
    if (end == std::string::npos) break;
    const auto value = function.environment.find(event.substr(at + 2, end - at - 2));
    if (value == function.environment.end()) {
      at = end;
      continue;
    }
    event.replace(at, end - at + 1, value->second);
    at += value->second.size();
  }
  return event;
}

// A `sam local invoke --env-vars` file: "Parameters" for every function, then the function's own
// section (by logical id: "GetFiles" also reads "GetFilesFunction").
void apply_env_vars_file(const std::string& path, FunctionConfig& function) {
  std::ifstream in(path);
  if (!in) usage_error("cannot read --env-vars file " + path);
  boost::system::error_code error;
  const auto document =
      boost::json::parse(std::string(std::istreambuf_iterator<char>(in), {}), error);
  if (error || !document.is_object()) usage_error(path + " is not a JSON object");
  for (const std::string& section :
       {std::string("Parameters"), function.name, function.name + "Function"}) {
    const auto* variables = document.get_object().if_contains(section);
    if (variables == nullptr) continue;
    if (!variables->is_object()) usage_error(path + ": " + section + " is not an object");
    for (const auto& [name, value] : variables->get_object()) {
      function.environment[std::string(name)] =
          value.is_string() ? std::string(value.get_string()) : boost::json::serialize(value);
    }
  }
}

// Lambda gives a function its role's credentials in the environment; here, against real AWS, the
// caller's. A profile that only the AWS CLI can resolve (SSO, assume-role) is named with the way to
// export its credentials, and the function then fails with its own error.
void give_caller_credentials(FunctionConfig& function) {
  if (std::getenv("AWS_ACCESS_KEY_ID") != nullptr ||
      function.environment.contains("AWS_ACCESS_KEY_ID"))
    return;
  try {
    const common::Credentials credentials = common::load_credentials();
    function.environment["AWS_ACCESS_KEY_ID"] = credentials.access_key_id;
    function.environment["AWS_SECRET_ACCESS_KEY"] = credentials.secret_access_key;
    if (!credentials.session_token.empty())
      function.environment["AWS_SESSION_TOKEN"] = credentials.session_token;
  } catch (const std::exception& error) {
    std::cerr << "lambda-local: " << error.what() << "\n";
  }
}

int run_invoke(Options options, const fs::path& self_directory) {
  if (options.positional.size() != 2) usage_error("invoke takes FUNCTION and EVENT_FILE");
  if (options.config_path.empty()) options.config_path = running_local_stack_config(self_directory);
  const EmulatorConfig config = load_or_default(options);
  FunctionConfig function = resolve_function(options.positional[0], config, self_directory);
  if (options.timeout_s)
    function.timeout = std::chrono::milliseconds(static_cast<long long>(*options.timeout_s * 1000));
  if (options.memory_mb) function.memory_mb = *options.memory_mb;
  if (!options.log_format.empty()) function.log_format = options.log_format;
  if (!options.log_level.empty()) function.log_level = options.log_level;
  if (!options.env_vars_path.empty()) apply_env_vars_file(options.env_vars_path, function);
  for (const auto& [name, value] : options.environment) function.environment[name] = value;
  if (options.config_path.empty()) give_caller_credentials(function);
  const std::string event = with_environment(read_event(options.positional[1]), function);

  SandboxOptions sandbox_options;
  sandbox_options.region = config.region;
  sandbox_options.account_id = config.account_id;
  Sandbox sandbox(function, sandbox_options);
  const InvokeResult result =
      sandbox.invoke(event, options.trace ? std::optional(new_trace_id()) : std::nullopt);
  std::cout << result.payload << std::endl;
  if (!result.ok) {
    std::cerr << "lambda-local: " << function.name << " failed: " << result.error_type << "\n";
    return 1;
  }
  return 0;
}

int run_serve(const Options& options) {
  if (!options.positional.empty()) usage_error("serve takes no positional arguments");
  const EmulatorConfig config = load_or_default(options);
  std::optional<Upstream> upstream;
  try {
    if (!options.upstream.empty()) upstream = parse_upstream(options.upstream);
  } catch (const std::exception& error) {
    usage_error(error.what());
  }
  // Before any thread starts, so only the wait below receives them.
  block_stop_signals();

  SandboxOptions sandbox_options;
  sandbox_options.log_directory = options.log_directory;
  std::unique_ptr<InvokeApiServer> started;
  try {
    started = std::make_unique<InvokeApiServer>(
        config, upstream, sandbox_options, static_cast<std::uint16_t>(options.port), options.host);
  } catch (const std::runtime_error& error) {
    usage_error(error.what());
  }
  InvokeApiServer& server = *started;
  std::string names;
  for (const auto& [name, unused] : config.functions) names += (names.empty() ? "" : ", ") + name;
  std::cout << "lambda-local serving http://" << options.host << ":" << server.port()
            << " (functions: " << (names.empty() ? "none" : names)
            << "; upstream: " << (options.upstream.empty() ? "none" : options.upstream) << ")"
            << std::endl;
  wait_for_stop_signal();
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) usage_error("a command is required");
  const std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  const Options options = parse_options(argc, argv);
  const fs::path self_directory = fs::canonical("/proc/self/exe").parent_path();
  try {
    if (command == "invoke") return run_invoke(options, self_directory);
    if (command == "serve") return run_serve(options);
  } catch (const std::exception& error) {
    std::cerr << "lambda-local: " << error.what() << "\n";
    return 1;
  }
  usage_error("unknown command " + command);
}
