// What validate-logs reads from a log bucket and from CloudTrail is untrusted: a digest file's
// JSON, a key's name, a signature's hex, a ListPublicKeys answer. Whatever they hold:
// - a digest is read or refused with std::runtime_error, never half-read; one that is read signs
//   the string its own fields make, and a signature fuzzed against a fixed key never verifies;
// - a key names an hourly digest's end time only when it ends in that time and .json.gz;
// - hex and base64 decode or refuse, and hex round-trips;
// - a ListPublicKeys answer gives keys or is MalformedResponse.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/errors.h"
#include "common/hashing.h"
#include "common/json_services.h"
#include "pipeline/cloudtrail_digest.h"

namespace {

const std::string& fixed_public_key() {
  static const std::string der = [] {
    EVP_PKEY* key = EVP_RSA_gen(1024);
    unsigned char* bytes = nullptr;
    const int size = i2d_PublicKey(key, &bytes);
    std::string encoded(reinterpret_cast<char*>(bytes), static_cast<std::size_t>(size));
    OPENSSL_free(bytes);
    EVP_PKEY_free(key);
    return encoded;
  }();
  return der;
}

void digest(std::string_view text) {
  try {
    const auto parsed = pipeline::parse_digest(text);
    const std::string signed_text = pipeline::string_to_sign(parsed);
    if (!signed_text.starts_with(parsed.end_time + "\n" + parsed.bucket + "/" + parsed.key + "\n"))
      __builtin_trap();
    if (pipeline::signature_valid(parsed, text.substr(0, 256), fixed_public_key()))
      __builtin_trap();
  } catch (const std::runtime_error&) {
  }
}

void key_name(std::string_view key) {
  const pipeline::DigestLocation location{"",          "",      "111111111111",
                                          "eu-west-1", "trail", "us-east-1"};
  if (const auto time = location.end_time_of(key)) {
    if (!key.ends_with(*time + ".json.gz") || time->size() != 16) __builtin_trap();
  }
}

void encodings(std::string_view text) {
  if (common::hex_decode(common::hex_encode(text)) != std::string(text)) __builtin_trap();
  if (const auto bytes = common::hex_decode(text)) {
    if (common::hex_encode(*bytes).size() != text.size()) __builtin_trap();
  }
  (void)common::base64_decode(text);
}

void public_keys(std::string_view body) {
  try {
    (void)common::CloudTrailClient::public_keys(common::Answer::parse("ListPublicKeys", body));
  } catch (const common::AwsError& error) {
    if (error.code() != "MalformedResponse") __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  digest(text);
  key_name(text);
  encodings(text);
  public_keys(text);
  return 0;
}
