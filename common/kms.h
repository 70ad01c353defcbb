#pragma once
// KMS, for the one thing the pipeline asks of it: HMAC keys (KeySpec HMAC_256, KeyUsage
// GENERATE_VERIFY_MAC). GenerateMac and VerifyMac are separate permissions, so a role that may only
// verify can never make a MAC that verifies.
#include <string>
#include <string_view>

#include "common/json_services.h"

namespace common {

class KmsClient {
 public:
  explicit KmsClient(ClientOptions options);
  KmsClient();
  static const ServiceInfo& service_info();

  // KMS takes messages of 1 to 4,096 bytes.
  static constexpr std::size_t kMaxMacMessageBytes = 4096;

  // The HMAC_SHA_256 of `message` under `key_id` (a key ARN, id or alias), raw bytes.
  std::string generate_mac(const std::string& key_id, std::string_view message);
  // Whether `mac` is the key's HMAC_SHA_256 of `message`; false when KMS answers
  // KMSInvalidMacException, every other error thrown as the AwsError it is.
  bool verify_mac(const std::string& key_id, std::string_view message, std::string_view mac);

 private:
  JsonServiceClient json_;
};

}  // namespace common
