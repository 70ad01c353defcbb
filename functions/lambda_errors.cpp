#include "functions/lambda_errors.h"

#include "common/errors.h"
#include "runtime/errors.h"

namespace functions {

std::optional<std::string> lambda_error_type(const std::exception& error) {
  const auto* aws = dynamic_cast<const common::AwsError*>(&error);
  if (aws == nullptr) return std::nullopt;
  if (aws->throttling()) return runtime::error_type::kThrottled;
  const std::string& code = aws->code();
  // S3 answers 409 ConditionalRequestConflict to a conditional write racing another write of the
  // same key (its CompleteMultipartUpload documentation): a conflict, retried like a 412.
  if (code == "ConditionalCheckFailedException" || code == "TransactionCanceledException" ||
      code == "PreconditionFailed" || code == "ConditionalRequestConflict") {
    return runtime::error_type::kConflictError;
  }
  return aws->retryable() ? runtime::error_type::kTransientError : runtime::error_type::kAwsError;
}

}  // namespace functions
