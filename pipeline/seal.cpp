#include "pipeline/seal.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <iterator>

#include "common/errors.h"
#include "common/settings.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

namespace {

// Each message says what it is, so a MAC or signature made for one can never pass as the other.
std::string certificate_message(const std::string& public_key) {
  return "log-aggregation sealing key v1\n" + common::hex_encode(public_key);
}

std::string record_message(const json::object& record, const std::string& bucket,
                           const std::string& key) {
  return "log-aggregation sealed record v1\ns3://" + bucket + "/" + key + "\n" +
         common::sha256_hex(json::serialize(record));
}

std::optional<std::string> seal_text(const json::object& seal, const char* name) {
  const auto* value = seal.if_contains(name);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return common::base64_decode(value->get_string());
}

}  // namespace

std::string seal_key_id() {
  return common::required_setting("SEAL_KEY_ID");
}

Sealer::Sealer(common::KmsClient& kms, std::string key_id)
    : kms_(kms), key_id_(std::move(key_id)) {}

void Sealer::seal(json::object& record, const std::string& bucket, const std::string& key) {
  if (certificate_.empty())
    certificate_ = kms_.generate_mac(key_id_, certificate_message(signing_key_.public_key()));
  record.erase("seal");
  const std::string signature = signing_key_.sign(record_message(record, bucket, key));
  record["seal"] = json::object{{"key", common::base64_encode(signing_key_.public_key())},
                                {"certificate", common::base64_encode(certificate_)},
                                {"signature", common::base64_encode(signature)}};
}

SealChecker::SealChecker(common::KmsClient& kms, std::string key_id)
    : kms_(kms), key_id_(std::move(key_id)) {}

bool SealChecker::certified(const std::string& public_key, const std::string& certificate) {
  // An HMAC_SHA_256 is 32 bytes: anything else is refused without asking KMS.
  if (certificate.size() != 32) return false;
  const std::string id = public_key + certificate;
  {
    std::lock_guard lock(mutex_);
    if (const auto known = certificates_.find(id); known != certificates_.end())
      return known->second;
    // Each key anyone can make and sign with costs one VerifyMac: past a few refused ones, a
    // process asks no more (a planted flood of them must not become a flood of KMS requests).
    if (refused_ >= kMaxRefusedCertificates) return false;
  }
  bool valid = false;
  try {
    valid = kms_.verify_mac(key_id_, certificate_message(public_key), certificate);
  } catch (const common::AwsError& error) {
    if (error.retryable() || error.code() != "ValidationException") throw;
  }
  std::lock_guard lock(mutex_);
  certificates_[id] = valid;
  refused_ += valid ? 0 : 1;
  return valid;
}

std::optional<std::string> SealChecker::unseal(json::object& record, const std::string& bucket,
                                               const std::string& key) {
  const auto* found = record.if_contains("seal");
  if (found == nullptr) return "it has no seal";
  // Written last: taking it out leaves the rest in its order (boost::json::object::erase moves
  // the last member into the gap).
  if (!found->is_object() || std::prev(record.end())->key() != "seal") return "its seal is not one";
  const json::object seal = found->get_object();
  record.erase("seal");
  const auto public_key = seal_text(seal, "key");
  const auto certificate = seal_text(seal, "certificate");
  const auto signature = seal_text(seal, "signature");
  if (!public_key || !certificate || !signature || public_key->size() != 32 || certificate->empty())
    return "its seal is malformed";
  if (!common::ed25519_verify(*public_key, record_message(record, bucket, key), *signature))
    return "its seal is not for this record at s3://" + bucket + "/" + key;
  if (!certified(*public_key, *certificate))
    return "its seal was made with a key the seal key did not certify";
  return std::nullopt;
}

Seals::Seals(common::ClientOptions kms_options, const std::string& key_id)
    : kms_(std::move(kms_options)), sealer_(kms_, key_id), checker_(kms_, key_id) {}
Seals::Seals(const std::string& key_id)
    : Seals(common::ClientOptions::from_environment(common::KmsClient::service_info()), key_id) {}

void write_sealed(common::S3Client& s3, Sealer& sealer, const std::string& bucket,
                  const std::string& key, json::object record) {
  sealer.seal(record, bucket, key);
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(bucket, key, json::serialize(record), put);
}

Unsealed read_unsealed(common::S3Client& s3, SealChecker& checker, const std::string& bucket,
                       const std::string& key) {
  boost::system::error_code error;
  json::value parsed = json::parse(s3.get_object(bucket, key), error);
  if (error || !parsed.is_object()) {
    throw runtime::VerificationFailed("s3://" + bucket + "/" + key +
                                      " is not a record CombineLogFiles sealed");
  }
  Unsealed unsealed{std::move(parsed.get_object()), std::nullopt};
  unsealed.problem = checker.unseal(unsealed.record, bucket, key);
  return unsealed;
}

json::object read_sealed(common::S3Client& s3, SealChecker& checker, const std::string& bucket,
                         const std::string& key) {
  auto [record, problem] = read_unsealed(s3, checker, bucket, key);
  if (problem) {
    throw runtime::VerificationFailed("s3://" + bucket + "/" + key +
                                      " is not trusted: " + *problem);
  }
  return std::move(record);
}

}  // namespace pipeline
