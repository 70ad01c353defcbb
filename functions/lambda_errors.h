#pragma once
// What Lambda calls the AWS core's errors: the errorType the state machines Retry and Catch on
// (runtime/errors.h lists them). Every function's main() hands this to runtime::run.
#include <exception>
#include <optional>
#include <string>

namespace functions {

// Throttled (AWS kept throttling), ConflictError (a condition or precondition failed: someone
// else changed it), TransientError (retryable), AwsError (retrying cannot fix it); nullopt for
// an exception that is not an AWS error.
std::optional<std::string> lambda_error_type(const std::exception& error);

}  // namespace functions
