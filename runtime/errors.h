#pragma once
// The project's error names. A handler signals failure by throwing; the runtime reports the
// exception's error_type() as `errorType`, and the state machines Retry/Catch on these exact
// strings, so they are part of the public contract: add names, never rename them.
//
//   InvalidInput        the event is malformed or names something that cannot exist. Never retried;
//                       nothing was changed.
//   Throttled           AWS kept throttling after the client's own retries. Retry with backoff.
//   TransientError      a network or 5xx failure that survived the client's retries. Retry.
//   VerificationFailed  an output did not match what was combined into it. Never retried; no
//                       original is deleted.
//   ConflictError       someone else changed the object or item we were working on. Retry.
//   ResponseTooLarge    the handler's response exceeded Lambda's 6 MB response limit.
//   ConfigurationError  a required environment variable is missing or invalid (init or handler).
//   AwsError            AWS refused a request for a reason retrying cannot fix (access denied, no
//                       such bucket); the AWS error code is in the message.
//   UnhandledError      any exception that is not one of ours (its C++ type is in the message).
//
// Lambda itself adds Sandbox.Timedout, Runtime.ExitError and Runtime.* init errors.
#include <stdexcept>
#include <string>

namespace runtime {

namespace error_type {
inline constexpr const char* kInvalidInput = "InvalidInput";
inline constexpr const char* kThrottled = "Throttled";
inline constexpr const char* kTransientError = "TransientError";
inline constexpr const char* kVerificationFailed = "VerificationFailed";
inline constexpr const char* kConflictError = "ConflictError";
inline constexpr const char* kResponseTooLarge = "ResponseTooLarge";
inline constexpr const char* kConfigurationError = "ConfigurationError";
inline constexpr const char* kAwsError = "AwsError";
inline constexpr const char* kUnhandledError = "UnhandledError";
}  // namespace error_type

// Base of every error the project throws on purpose.
class Error : public std::runtime_error {
 public:
  Error(std::string type, const std::string& message)
      : std::runtime_error(message), type_(std::move(type)) {}
  const std::string& error_type() const noexcept { return type_; }

 private:
  std::string type_;
};

class InvalidInput : public Error {
 public:
  explicit InvalidInput(const std::string& message) : Error(error_type::kInvalidInput, message) {}
};

class VerificationFailed : public Error {
 public:
  explicit VerificationFailed(const std::string& message)
      : Error(error_type::kVerificationFailed, message) {}
};

class ConfigurationError : public Error {
 public:
  explicit ConfigurationError(const std::string& message)
      : Error(error_type::kConfigurationError, message) {}
};

}  // namespace runtime
