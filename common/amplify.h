#pragma once
// What the Amplify export calls: STS AssumeRole (an app in another account is read as a role
// there), Amplify's GenerateAccessLogs (REST-JSON, signed for `amplify`) and the presigned URL it
// answers, read in byte ranges so a log file of any size never sits whole in memory.
#include <chrono>
#include <cstdint>
#include <string>

#include "common/aws_client.h"

namespace common {

struct AssumedRole {
  Credentials credentials;
  std::string expiration;  // as STS gives it: 2026-11-23T04:00:00Z
};

class StsClient {
 public:
  explicit StsClient(ClientOptions options);
  static const ServiceInfo& service_info();
  // STS's XML answer read; MalformedResponse when it holds no credentials.
  static AssumedRole assumed_role(const std::string& body);

  // AccessDenied when the caller may not assume the role or the role does not trust it.
  AssumedRole assume_role(const std::string& role_arn, const std::string& session_name,
                          std::chrono::seconds duration = std::chrono::hours(1));

 private:
  AwsClient client_;
};

class AmplifyClient {
 public:
  explicit AmplifyClient(ClientOptions options);
  static const ServiceInfo& service_info();

  // The presigned URL of the app's access logs for [start, end], both inclusive as Amplify reads
  // them. BadRequestException when Amplify refuses the range (or the request);
  // NotFoundException for an app or domain this caller's account does not have.
  std::string generate_access_logs(const std::string& app_id, const std::string& domain_name,
                                   std::chrono::sys_seconds start, std::chrono::sys_seconds end);

 private:
  AwsClient client_;
};

struct FetchedRange {
  std::string bytes;
  std::uint64_t total = 0;  // the whole file's size
};

// Bytes [first, first + length) of a presigned URL's file (fewer at its end; none for an empty
// file), through `client` (an S3 client: S3's errors are XML), retried as any AWS call. AwsError
// with the answer's status and code for anything else (an expired URL is 403).
FetchedRange fetch_range(AwsClient& client, const std::string& url, std::uint64_t first,
                         std::uint64_t length);

}  // namespace common
