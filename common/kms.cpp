#include "common/kms.h"

#include "common/errors.h"
#include "common/hashing.h"

namespace common {

namespace {

void check_message(std::string_view message) {
  if (message.empty() || message.size() > KmsClient::kMaxMacMessageBytes)
    throw std::invalid_argument("a KMS MAC message is 1 to 4,096 bytes");
}

}  // namespace

const ServiceInfo& KmsClient::service_info() {
  static const ServiceInfo info{"kms", "KMS", "kms", Protocol::Json};
  return info;
}

KmsClient::KmsClient(ClientOptions options)
    : json_(service_info(), "TrentService.", "application/x-amz-json-1.1", std::move(options)) {}
KmsClient::KmsClient() : KmsClient(ClientOptions::from_environment(service_info())) {}

std::string KmsClient::generate_mac(const std::string& key_id, std::string_view message) {
  check_message(message);
  const Answer answer = json_.call(
      "GenerateMac",
      {{"KeyId", key_id}, {"MacAlgorithm", "HMAC_SHA_256"}, {"Message", base64_encode(message)}});
  auto mac = base64_decode(answer.string("Mac"));
  if (!mac) answer.malformed("a Mac that is not base64");
  return *mac;
}

bool KmsClient::verify_mac(const std::string& key_id, std::string_view message,
                           std::string_view mac) {
  check_message(message);
  try {
    const Answer answer = json_.call("VerifyMac", {{"KeyId", key_id},
                                                   {"MacAlgorithm", "HMAC_SHA_256"},
                                                   {"Message", base64_encode(message)},
                                                   {"Mac", base64_encode(mac)}});
    const auto* valid = answer.fields().if_contains("MacValid");
    return valid != nullptr && valid->is_bool() && valid->get_bool();
  } catch (const AwsError& error) {
    if (error.code() == "KMSInvalidMacException") return false;
    throw;
  }
}

}  // namespace common
