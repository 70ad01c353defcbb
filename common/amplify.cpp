#include "common/amplify.h"

#include <pugixml.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/json_services.h"
#include "common/s3.h"

namespace common {

namespace json = boost::json;

const ServiceInfo& StsClient::service_info() {
  // The Query protocol: a form-encoded POST answered in XML (errors in <ErrorResponse>).
  static const ServiceInfo info{"sts", "STS", "sts", Protocol::RestXml};
  return info;
}

StsClient::StsClient(ClientOptions options) : client_(service_info(), std::move(options)) {}

AssumedRole StsClient::assumed_role(const std::string& body) {
  pugi::xml_document document;
  const auto credentials =
      document.load_buffer(body.data(), body.size())
          ? document.child("AssumeRoleResponse").child("AssumeRoleResult").child("Credentials")
          : pugi::xml_node();
  AssumedRole role{
      {credentials.child_value("AccessKeyId"), credentials.child_value("SecretAccessKey"),
       credentials.child_value("SessionToken")},
      credentials.child_value("Expiration")};
  if (role.credentials.access_key_id.empty() || role.credentials.secret_access_key.empty() ||
      role.credentials.session_token.empty()) {
    throw AwsError("MalformedResponse", "AssumeRole answered without credentials", "", 200, true);
  }
  return role;
}

AssumedRole StsClient::assume_role(const std::string& role_arn, const std::string& session_name,
                                   std::chrono::seconds duration) {
  AwsRequest request;
  request.operation = "AssumeRole";
  request.method = "POST";
  request.headers.emplace_back("content-type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + uri_encode(role_arn, false) +
                 "&RoleSessionName=" + uri_encode(session_name, false) +
                 "&DurationSeconds=" + std::to_string(duration.count());
  return assumed_role(client_.send(std::move(request)).body);
}

const ServiceInfo& AmplifyClient::service_info() {
  // REST-JSON: errors name their code in x-amzn-ErrorType, which parse_error reads.
  static const ServiceInfo info{"amplify", "AMPLIFY", "amplify", Protocol::Json};
  return info;
}

AmplifyClient::AmplifyClient(ClientOptions options) : client_(service_info(), std::move(options)) {}

std::string AmplifyClient::generate_access_logs(const std::string& app_id,
                                                const std::string& domain_name,
                                                std::chrono::sys_seconds start,
                                                std::chrono::sys_seconds end) {
  AwsRequest request;
  request.operation = "GenerateAccessLogs";
  request.method = "POST";
  request.path = "/apps/" + app_id + "/accesslogs";
  request.headers.emplace_back("content-type", "application/json");
  // REST-JSON writes a timestamp as epoch seconds.
  request.body = json::serialize(json::object{{"domainName", domain_name},
                                              {"startTime", start.time_since_epoch().count()},
                                              {"endTime", end.time_since_epoch().count()}});
  const auto response = client_.send(std::move(request));
  return Answer::parse("GenerateAccessLogs", response.body, response.status).string("logUrl");
}

FetchedRange fetch_range(AwsClient& client, const std::string& url, std::uint64_t first,
                         std::uint64_t length) {
  AwsRequest request;
  request.operation = "GetLogFile";
  request.presigned_url = url;
  request.headers.emplace_back(
      "range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + length - 1));
  AwsResponse response;
  try {
    response = client.send(std::move(request));
  } catch (const AwsError& error) {
    if (error.http_status() == 416 && first == 0) return {"", 0};  // an empty file
    throw;
  }
  if (response.status == 206)
    return {std::move(response.body),
            content_range_total(response.header("content-range")).value_or(0)};
  // 200: the whole file, from a server that ignores ranges.
  const std::uint64_t total = response.body.size();
  if (first >= total) return {"", total};
  return {response.body.substr(first, length), total};
}

}  // namespace common
