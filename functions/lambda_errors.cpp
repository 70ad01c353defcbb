#include "functions/lambda_errors.h"

#include "common/errors.h"
#include "runtime/errors.h"

namespace functions {

std::optional<std::string> lambda_error_type(const std::exception& error) {
  const auto* aws = dynamic_cast<const common::AwsError*>(&error);
  if (aws == nullptr) return std::nullopt;
  if (aws->throttling()) return runtime::error_type::kThrottled;
  const std::string& code = aws->code();
  if (code == "ConditionalCheckFailedException" || code == "TransactionCanceledException" ||
      code == "PreconditionFailed") {
    return runtime::error_type::kConflictError;
  }
  return aws->retryable() ? runtime::error_type::kTransientError : runtime::error_type::kAwsError;
}

}  // namespace functions
