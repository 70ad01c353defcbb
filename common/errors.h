#pragma once
// AWS failures as C++ types. Every AWS error is an AwsError (code, message, request id, HTTP
// status, retryable, throttling); the ones callers act on have their own type, so a call site
// writes `catch (const common::ConditionalCheckFailed&)` rather than comparing strings. What
// Lambda calls them (errorType) is decided at the runtime boundary (functions/lambda_errors.h).
#include <boost/json/object.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace common {

class AwsError : public std::runtime_error {
 public:
  AwsError(std::string code, std::string message, std::string request_id, int http_status,
           bool retryable, bool throttling = false);
  const std::string& code() const noexcept { return code_; }
  const std::string& aws_message() const noexcept { return aws_message_; }
  const std::string& request_id() const noexcept { return request_id_; }
  int http_status() const noexcept { return http_status_; }
  bool retryable() const noexcept { return retryable_; }
  bool throttling() const noexcept { return throttling_; }

 private:
  std::string code_;
  std::string aws_message_;
  std::string request_id_;
  int http_status_;
  bool retryable_;
  bool throttling_;
};

// The request never got an HTTP answer (refused, reset, timed out, DNS).
class TransportError : public AwsError {
 public:
  TransportError(const std::string& message);
};

class ConditionalCheckFailed : public AwsError {
 public:
  using AwsError::AwsError;
  // The item as it was, when the request asked for ReturnValuesOnConditionCheckFailure=ALL_OLD.
  boost::json::object item;
};
class TransactionCanceled : public AwsError {
 public:
  using AwsError::AwsError;
  // One code per item of the transaction, in order: "None" for an item that was not the cause,
  // "ConditionalCheckFailed" for one whose condition failed. Empty when the service gave none.
  std::vector<std::string> reasons;
};
class ExecutionAlreadyExists : public AwsError {
 public:
  using AwsError::AwsError;
};
class CrawlerRunning : public AwsError {
 public:
  using AwsError::AwsError;
};
class NoSuchKey : public AwsError {
 public:
  using AwsError::AwsError;
};
// A versionId that is not (or no longer) there: the key may still hold other versions.
class NoSuchVersion : public NoSuchKey {
 public:
  using NoSuchKey::NoSuchKey;
};
class NoSuchUpload : public AwsError {
 public:
  using AwsError::AwsError;
};
class NoSuchBucket : public AwsError {
 public:
  using AwsError::AwsError;
};
class PreconditionFailed : public AwsError {
 public:
  using AwsError::AwsError;
};
class ResourceNotFound : public AwsError {
 public:
  using AwsError::AwsError;
};
class AlreadyExists : public AwsError {
 public:
  using AwsError::AwsError;
};

struct ErrorDetails {
  std::string code;
  std::string message;
  std::string request_id;
  int http_status = 0;
  boost::json::object item;                       // DynamoDB's ALL_OLD item on a failed condition
  std::vector<std::string> cancellation_reasons;  // TransactWriteItems: a code per item
};

// Whether AWS's standard retry mode retries this error, and whether it is throttling.
bool is_throttling_code(std::string_view code);
bool is_transient(const ErrorDetails& details);

// Throws the AwsError subtype that matches the code (the one place codes map to types).
[[noreturn]] void throw_aws_error(const ErrorDetails& details);

}  // namespace common
