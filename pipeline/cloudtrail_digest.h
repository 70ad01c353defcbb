#pragma once
// CloudTrail's digest files, as CloudTrail's documentation ("CloudTrail digest file structure",
// "Custom implementations of CloudTrail log file integrity validation") and `aws cloudtrail
// validate-logs` define them. Each hour's digest (gzip JSON) lists the log files delivered in that
// hour with the SHA-256 of each one's decompressed content, and names the digest before it. Its
// signature (hex, in the object's x-amz-meta-signature) is SHA256withRSA over
//   digestEndTime \n digestS3Bucket/digestS3Object \n hex SHA-256 of the decompressed digest \n
//   previousDigestSignature (the text null for the first digest of a chain),
// made with the region's key whose fingerprint the digest names (ListPublicKeys gives the public
// half: a DER PKCS #1 RSAPublicKey).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dates.h"

namespace pipeline {

struct DigestLogFile {
  std::string bucket;
  std::string key;
  std::string content_sha256;  // hashValue: of the decompressed log file
};

struct Digest {
  std::string bucket, key;  // where it says it was delivered
  std::string start_time, end_time;
  std::string fingerprint;
  std::string signature_algorithm;                // digestSignatureAlgorithm: SHA256withRSA
  std::string previous_bucket, previous_key;      // empty: the first of a chain
  std::optional<std::string> previous_signature;  // null for the first of a chain
  std::vector<DigestLogFile> log_files;
  std::string content_sha256;  // of the decompressed digest itself
};

// Reads a decompressed digest; std::runtime_error naming what is missing or malformed.
Digest parse_digest(std::string_view decompressed);

std::string string_to_sign(const Digest& digest);

// Whether `signature_hex` is a SHA256withRSA signature of string_to_sign(digest) by the public key
// (DER PKCS #1). A key that cannot be read is std::runtime_error.
bool signature_valid(const Digest& digest, std::string_view signature_hex,
                     std::string_view public_key_der);

// Where one trail's digests for one account and region are delivered:
//   [prefix/]AWSLogs/[organization-id/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/
//   ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOME-REGION_YYYYMMDDTHHMMSSZ.json.gz
// (backfill digests end _backfill.json.gz and are not part of the hourly chain).
struct DigestLocation {
  std::string prefix;
  std::string organization_id;
  std::string account;
  std::string region;  // where the events happened
  std::string trail_name;
  std::string home_region;

  std::string day_prefix(const common::Date& day) const;
  // The end time (YYYYMMDDTHHMMSSZ) of an hourly digest of this trail, or nullopt for any other
  // key (another trail, a backfill digest, a log file).
  std::optional<std::string> end_time_of(std::string_view key) const;
};

}  // namespace pipeline
