#pragma once
// AWS Signature Version 4 (header signing) with OpenSSL. Paths are encoded once, as S3 requires;
// the other services we call only POST to "/".
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/hashing.h"

namespace common {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SignableRequest {
  std::string method;
  std::string host;  // the Host header
  std::string path;  // not yet encoded: "/bucket/a key+with%.txt"
  std::vector<std::pair<std::string, std::string>> query;  // not yet encoded
  HeaderList headers;        // every header to sign, besides host and x-amz-date
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// RFC 3986 encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) stay, every other byte is %XX;
// '/' stays too when keep_slash.
std::string uri_encode(std::string_view text, bool keep_slash);
// %XX decoded; '+' becomes a space only when plus_is_space (form encoding, as S3 uses for
// encoding-type=url listings).
std::string url_decode(std::string_view text, bool plus_is_space = false);

std::string format_amz_date(std::chrono::system_clock::time_point time);  // 20150830T123600Z

class Signer {
 public:
  Signer(std::string region, std::string service);

  // The headers to add to the request: x-amz-date, x-amz-security-token (with a session token)
  // and authorization.
  HeaderList sign(const SignableRequest& request, const Credentials& credentials,
                  std::chrono::system_clock::time_point now);

  static std::string canonical_request(const SignableRequest& request, const HeaderList& headers,
                                       std::string* signed_headers);

 private:
  std::string signing_key(const Credentials& credentials, const std::string& date);

  std::string region_;
  std::string service_;
  std::mutex mutex_;
  std::string cached_for_;  // date + access key id the cached key was derived for
  std::string cached_key_;
};

}  // namespace common
