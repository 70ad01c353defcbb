#include "tests/in_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "functions/amplify_log_exporter/handler.h"
#include "functions/combine_log_files/handler.h"
#include "functions/crawler_trigger/handler.h"
#include "functions/delete_originals/handler.h"
#include "functions/determine_operation_type/handler.h"
#include "functions/get_files/handler.h"
#include "functions/lambda_errors.h"
#include "functions/log_forwarder/handler.h"
#include "functions/manifest_builder/handler.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace tests {

namespace {

runtime::HandlerFactory factory_of(const std::string& function) {
  static const std::map<std::string, runtime::HandlerFactory> kFactories{
      {"GetFiles", functions::get_files::make_handler},
      {"DetermineOperationType", functions::determine_operation_type::make_handler},
      {"CombineLogFiles", functions::combine_log_files::make_handler},
      {"DeleteOriginals", functions::delete_originals::make_handler},
      {"CrawlerTrigger", functions::crawler_trigger::make_handler},
      {"ManifestBuilder", functions::manifest_builder::make_handler},
      {"LogForwarder", functions::log_forwarder::make_handler},
      {"AmplifyLogExporter", functions::amplify_log_exporter::make_handler}};
  return kFactories.at(function);
}

// Sets variables for its lifetime, then puts back what was there.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::string>& variables) {
    for (const auto& [name, value] : variables) {
      const char* before = std::getenv(name.c_str());
      saved_[name] = before ? std::optional<std::string>(before) : std::nullopt;
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// stdout and stderr into a file for its lifetime; text() reads what was written.
class CapturedOutput {
 public:
  CapturedOutput() : path_(dir_.path() / "output") {
    std::fflush(stdout);
    std::fflush(stderr);
    const int fd = ::open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    saved_out_ = ::dup(STDOUT_FILENO);
    saved_err_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedOutput() { restore(); }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

 private:
  void restore() {
    if (saved_out_ < 0) return;
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out_, STDOUT_FILENO);
    ::dup2(saved_err_, STDERR_FILENO);
    ::close(saved_out_);
    ::close(saved_err_);
    saved_out_ = saved_err_ = -1;
  }
  TempDir dir_;
  std::filesystem::path path_;
  int saved_out_ = -1;
  int saved_err_ = -1;
};

}  // namespace

Invocation invoke_handler(const MotoFixture& moto, const std::string& function,
                          const boost::json::value& event,
                          const std::map<std::string, std::string>& environment) {
  std::map<std::string, std::string> settings{
      {"AWS_ENDPOINT_URL", moto.endpoint},
      {"AWS_ACCESS_KEY_ID", moto.credentials.access_key_id},
      {"AWS_SECRET_ACCESS_KEY", moto.credentials.secret_access_key},
      {"AWS_SESSION_TOKEN", ""},
      {"AWS_REGION", "us-east-1"},
      {"AWS_DEFAULT_REGION", "us-east-1"},
      {"AWS_LAMBDA_FUNCTION_NAME", function},
      {"SEAL_KEY_ID", seal_key(moto)}};
  for (const auto& [name, value] : environment) settings[name] = value;
  const ScopedEnvironment scoped(settings);
  Invocation invocation;
  CapturedOutput output;
  runtime::log::configure_from_environment();
  runtime::metrics::configure_from_environment();
  try {
    const runtime::Handler handler = factory_of(function)();
    runtime::InvocationContext context;
    context.request_id = "in-process-request";
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function;
    context.deadline = std::chrono::system_clock::now() + std::chrono::seconds(120);
    // As the runtime does: the response is the JSON the handler returns, serialized.
    invocation.response = boost::json::parse(boost::json::serialize(handler(event, context)));
    invocation.exit_code = 0;
  } catch (...) {
    const runtime::ErrorReport report =
        runtime::describe_current_exception(functions::lambda_error_type);
    invocation.response =
        boost::json::object{{"errorType", report.type}, {"errorMessage", report.message}};
    invocation.exit_code = 1;
  }
  runtime::metrics::flush();
  invocation.logs = output.text();
  return invocation;
}

}  // namespace tests
