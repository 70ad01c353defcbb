#include "pipeline/cloudtrail_digest.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <boost/json/parse.hpp>
#include <memory>
#include <regex>
#include <stdexcept>

#include "common/hashing.h"

namespace pipeline {

namespace json = boost::json;

namespace {

std::string field(const json::object& object, std::string_view name, const char* what) {
  const auto* value = object.if_contains(name);
  if (value == nullptr || !value->is_string())
    throw std::runtime_error(std::string(what) + " has no \"" + std::string(name) + "\"");
  return std::string(value->get_string());
}

std::string optional_field(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

std::string two_digits(int number) {
  return (number < 10 ? "0" : "") + std::to_string(number);
}

}  // namespace

Digest parse_digest(std::string_view decompressed) {
  boost::system::error_code error;
  const json::value parsed = json::parse(decompressed, error);
  if (error || !parsed.is_object()) throw std::runtime_error("the digest is not a JSON object");
  const json::object& object = parsed.get_object();
  Digest digest;
  digest.bucket = field(object, "digestS3Bucket", "the digest");
  digest.key = field(object, "digestS3Object", "the digest");
  digest.start_time = field(object, "digestStartTime", "the digest");
  digest.end_time = field(object, "digestEndTime", "the digest");
  digest.fingerprint = field(object, "digestPublicKeyFingerprint", "the digest");
  digest.signature_algorithm = field(object, "digestSignatureAlgorithm", "the digest");
  digest.previous_bucket = optional_field(object, "previousDigestS3Bucket");
  digest.previous_key = optional_field(object, "previousDigestS3Object");
  const auto* previous = object.if_contains("previousDigestSignature");
  if (previous == nullptr)
    throw std::runtime_error("the digest has no \"previousDigestSignature\"");
  if (previous->is_string()) digest.previous_signature = std::string(previous->get_string());
  const auto* logs = object.if_contains("logFiles");
  if (logs == nullptr || !logs->is_array()) throw std::runtime_error("the digest has no logFiles");
  for (const auto& entry : logs->get_array()) {
    if (!entry.is_object()) throw std::runtime_error("a logFiles entry is not an object");
    const auto& log = entry.get_object();
    if (field(log, "hashAlgorithm", "a logFiles entry") != "SHA-256")
      throw std::runtime_error("a logFiles entry is hashed with another algorithm than SHA-256");
    digest.log_files.push_back({field(log, "s3Bucket", "a logFiles entry"),
                                field(log, "s3Object", "a logFiles entry"),
                                field(log, "hashValue", "a logFiles entry")});
  }
  digest.content_sha256 = common::sha256_hex(decompressed);
  return digest;
}

std::string string_to_sign(const Digest& digest) {
  return digest.end_time + "\n" + digest.bucket + "/" + digest.key + "\n" + digest.content_sha256 +
         "\n" + digest.previous_signature.value_or("null");
}

bool signature_valid(const Digest& digest, std::string_view signature_hex,
                     std::string_view public_key_der) {
  const auto signature = common::hex_decode(signature_hex);
  if (!signature || digest.signature_algorithm != "SHA256withRSA") return false;
  const auto* der = reinterpret_cast<const unsigned char*>(public_key_der.data());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      d2i_PublicKey(EVP_PKEY_RSA, nullptr, &der, static_cast<long>(public_key_der.size())),
      EVP_PKEY_free);
  if (!key) throw std::runtime_error("the public key is not a DER PKCS #1 RSA public key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  const std::string text = string_to_sign(digest);
  return context &&
         EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                          signature->size(), reinterpret_cast<const unsigned char*>(text.data()),
                          text.size()) == 1;
}

std::string DigestLocation::day_prefix(const common::Date& day) const {
  std::string path = prefix.empty() ? "" : prefix + "/";
  path += "AWSLogs/";
  if (!organization_id.empty()) path += organization_id + "/";
  return path + account + "/CloudTrail-Digest/" + region + "/" + std::to_string(day.year) + "/" +
         two_digits(day.month) + "/" + two_digits(day.day) + "/";
}

std::optional<std::string> DigestLocation::end_time_of(std::string_view key) const {
  const std::string name =
      account + "_CloudTrail-Digest_" + region + "_" + trail_name + "_" + home_region + "_";
  const auto slash = key.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? key : key.substr(slash + 1);
  static const std::regex kTime("\\d{8}T\\d{6}Z");
  if (!file.starts_with(name) || !file.ends_with(".json.gz")) return std::nullopt;
  const std::string time(file.substr(name.size(), file.size() - name.size() - 8));
  if (!std::regex_match(time, kTime)) return std::nullopt;
  return time;
}

}  // namespace pipeline
