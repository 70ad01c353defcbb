#include "common/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>

namespace common {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

// Trims and folds runs of spaces into one, as the canonical form requires.
std::string canonical_header_value(std::string_view value) {
  std::string result;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = !result.empty();
      continue;
    }
    if (pending_space) result.push_back(' ');
    pending_space = false;
    result.push_back(c);
  }
  return result;
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string encoded;
  encoded.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded.push_back('%');
      static constexpr char kUpperHex[] = "0123456789ABCDEF";
      encoded.push_back(kUpperHex[c >> 4]);
      encoded.push_back(kUpperHex[c & 0xf]);
    }
  }
  return encoded;
}

std::string url_decode(std::string_view text, bool plus_is_space) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && value(text[i + 1]) >= 0 &&
        value(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(value(text[i + 1]) * 16 + value(text[i + 2])));
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      decoded.push_back(' ');
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

std::string format_amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

Signer::Signer(std::string region, std::string service)
    : region_(std::move(region)), service_(std::move(service)) {}

std::string Signer::canonical_request(const SignableRequest& request, const HeaderList& headers,
                                      std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> query;
  query.reserve(request.query.size());
  for (const auto& [name, value] : request.query) {
    query.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [name, value] : query) {
    if (!canonical_query.empty()) canonical_query.push_back('&');
    canonical_query.append(name).append("=").append(value);
  }

  std::map<std::string, std::string> canonical_headers;
  for (const auto& [name, value] : headers) {
    std::string& joined = canonical_headers[lowercase(name)];
    if (!joined.empty()) joined.push_back(',');
    joined += canonical_header_value(value);
  }
  std::string header_block;
  signed_headers->clear();
  for (const auto& [name, value] : canonical_headers) {
    header_block.append(name).append(":").append(value).append("\n");
    if (!signed_headers->empty()) signed_headers->push_back(';');
    signed_headers->append(name);
  }

  const std::string path = request.path.empty() ? "/" : uri_encode(request.path, true);
  return request.method + "\n" + path + "\n" + canonical_query + "\n" + header_block + "\n" +
         *signed_headers + "\n" + request.payload_hash;
}

std::string Signer::signing_key(const Credentials& credentials, const std::string& date) {
  std::lock_guard lock(mutex_);
  const std::string cache_id = date + "/" + credentials.access_key_id;
  if (cache_id != cached_for_) {
    const std::string date_key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    const std::string region_key = hmac_sha256(date_key, region_);
    const std::string service_key = hmac_sha256(region_key, service_);
    cached_key_ = hmac_sha256(service_key, "aws4_request");
    cached_for_ = cache_id;
  }
  return cached_key_;
}

HeaderList Signer::sign(const SignableRequest& request, const Credentials& credentials,
                        std::chrono::system_clock::time_point now) {
  const std::string amz_date = format_amz_date(now);
  const std::string date = amz_date.substr(0, 8);
  HeaderList added{{"x-amz-date", amz_date}};
  if (!credentials.session_token.empty()) {
    added.emplace_back("x-amz-security-token", credentials.session_token);
  }
  HeaderList headers = request.headers;
  headers.emplace_back("host", request.host);
  headers.insert(headers.end(), added.begin(), added.end());

  std::string signed_headers;
  const std::string canonical = canonical_request(request, headers, &signed_headers);
  const std::string scope = date + "/" + region_ + "/" + service_ + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  const std::string raw_signature = hmac_sha256(signing_key(credentials, date), string_to_sign);
  const std::string signature = hex_encode(raw_signature);
  added.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id +
                                          "/" + scope + ", SignedHeaders=" + signed_headers +
                                          ", Signature=" + signature);
  return added;
}

}  // namespace common
