#include "common/errors.h"

namespace common {

namespace {

std::string describe(const std::string& code, const std::string& message, int status) {
  std::string text = code;
  if (!message.empty()) text += ": " + message;
  if (status != 0) text += " (HTTP " + std::to_string(status) + ")";
  return text;
}

}  // namespace

AwsError::AwsError(std::string code, std::string message, std::string request_id, int http_status,
                   bool retryable, bool throttling)
    : std::runtime_error(describe(code, message, http_status)),
      code_(std::move(code)),
      aws_message_(std::move(message)),
      request_id_(std::move(request_id)),
      http_status_(http_status),
      retryable_(retryable),
      throttling_(throttling) {}

TransportError::TransportError(const std::string& message)
    : AwsError("ConnectionError", message, "", 0, true) {}

bool is_throttling_code(std::string_view code) {
  static constexpr std::string_view kCodes[] = {"Throttling",
                                                "ThrottlingException",
                                                "ThrottledException",
                                                "RequestThrottledException",
                                                "TooManyRequestsException",
                                                "ProvisionedThroughputExceededException",
                                                "TransactionInProgressException",
                                                "RequestLimitExceeded",
                                                "BandwidthLimitExceeded",
                                                "LimitExceededException",
                                                "RequestThrottled",
                                                "SlowDown",
                                                "PriorRequestNotComplete",
                                                "EC2ThrottledException",
                                                "ThrottlingError"};
  for (std::string_view known : kCodes) {
    if (code == known) return true;
  }
  return false;
}

bool is_transient(const ErrorDetails& details) {
  static constexpr std::string_view kCodes[] = {"RequestTimeout",
                                                "RequestTimeoutException",
                                                "InternalError",
                                                "InternalFailure",
                                                "InternalServerError",
                                                "ServiceUnavailable",
                                                "ServiceUnavailableException",
                                                "IDPCommunicationError",
                                                "ConnectionError"};
  if (is_throttling_code(details.code)) return true;
  for (std::string_view known : kCodes) {
    if (details.code == known) return true;
  }
  return details.http_status == 500 || details.http_status == 502 || details.http_status == 503 ||
         details.http_status == 504;
}

void throw_aws_error(const ErrorDetails& d) {
  const bool throttling = is_throttling_code(d.code);
  const bool retryable = is_transient(d);
  const auto& c = d.code;
  if (c == "ConditionalCheckFailedException") {
    ConditionalCheckFailed error(d.code, d.message, d.request_id, d.http_status, false);
    error.item = d.item;
    throw error;
  }
  if (c == "TransactionCanceledException") {
    TransactionCanceled error(d.code, d.message, d.request_id, d.http_status, false);
    error.reasons = d.cancellation_reasons;
    throw error;
  }
  if (c == "ExecutionAlreadyExists") {
    throw ExecutionAlreadyExists(d.code, d.message, d.request_id, d.http_status, false);
  }
  if (c == "CrawlerRunningException") {
    throw CrawlerRunning(d.code, d.message, d.request_id, d.http_status, false);
  }
  if (c == "NoSuchVersion")
    throw NoSuchVersion(d.code, d.message, d.request_id, d.http_status, false);
  if (c == "NoSuchKey" || (c == "NotFound" && d.http_status == 404)) {
    throw NoSuchKey("NoSuchKey", d.message, d.request_id, d.http_status, false);
  }
  if (c == "NoSuchUpload")
    throw NoSuchUpload(d.code, d.message, d.request_id, d.http_status, false);
  if (c == "NoSuchBucket")
    throw NoSuchBucket(d.code, d.message, d.request_id, d.http_status, false);
  if (c == "PreconditionFailed") {
    throw PreconditionFailed(d.code, d.message, d.request_id, d.http_status, false);
  }
  if (c == "ResourceNotFoundException" || c == "EntityNotFoundException" ||
      c == "ExecutionDoesNotExist" || c == "StateMachineDoesNotExist") {
    throw ResourceNotFound(d.code, d.message, d.request_id, d.http_status, false);
  }
  if (c == "AlreadyExistsException") {
    throw AlreadyExists(d.code, d.message, d.request_id, d.http_status, false);
  }
  throw AwsError(d.code, d.message, d.request_id, d.http_status, retryable, throttling);
}

}  // namespace common
