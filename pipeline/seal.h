#pragma once
// Seals on the records that decide a deletion: an output's index in the ledger and CombineLogFiles'
// checkpoints. Anyone who can write the work bucket can write a file there; only CombineLogFiles
// can seal one, so a file without a valid seal never decides what is deleted.
//
// How: CombineLogFiles makes an Ed25519 key in memory when it first seals, and asks KMS once for
// the MAC of its public key under the seal key (SEAL_KEY_ID, an HMAC_256 key: only CombineLogFiles'
// role may call GenerateMac on it). That MAC is the key's certificate. Each record is signed by the
// key, over the place it is kept (bucket and key) and the SHA-256 of its JSON without the seal, so
// a sealed record moved to another place or edited no longer verifies. A checker verifies each
// certificate once with KMS's VerifyMac (every reader's role may) and each signature itself: one
// KMS request per CombineLogFiles process and per reader process, not per record. A role that may
// only verify can neither certify a key of its own nor sign without CombineLogFiles' private key,
// which never leaves its process.
//
// The seal is the record's "seal" member: {"key", "certificate", "signature"}, base64.
#include <boost/json/object.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/hashing.h"
#include "common/kms.h"
#include "common/s3.h"

namespace pipeline {

// SEAL_KEY_ID: the KMS HMAC key (ARN, id or alias) every seal is made and checked with; required
// (ConfigurationError) by every function and command that seals or checks one.
std::string seal_key_id();

class Sealer {
 public:
  Sealer(common::KmsClient& kms, std::string key_id);
  // `record` with a seal for its place, s3://<bucket>/<key>.
  void seal(boost::json::object& record, const std::string& bucket, const std::string& key);

 private:
  common::KmsClient& kms_;
  std::string key_id_;
  common::Ed25519Key signing_key_;
  std::string certificate_;  // asked for on the first seal
};

class SealChecker {
 public:
  SealChecker(common::KmsClient& kms, std::string key_id);
  // Takes the seal out of `record`, read from s3://<bucket>/<key>: why it is not CombineLogFiles'
  // seal of exactly this record at this place (none, malformed, another place, edited, a key KMS
  // did not certify), or nullopt.
  std::optional<std::string> unseal(boost::json::object& record, const std::string& bucket,
                                    const std::string& key);

 private:
  bool certified(const std::string& public_key, const std::string& certificate);

  static constexpr int kMaxRefusedCertificates = 16;

  common::KmsClient& kms_;
  std::string key_id_;
  std::mutex mutex_;
  std::map<std::string, bool> certificates_;  // public key + certificate: KMS's answer
  int refused_ = 0;
};

// The seal key as one process uses it: KMS's client, and what makes and checks seals with it.
class Seals {
 public:
  Seals(common::ClientOptions kms_options, const std::string& key_id);
  explicit Seals(const std::string& key_id);  // KMS as the environment configures it
  Sealer& sealer() { return sealer_; }
  SealChecker& checker() { return checker_; }

 private:
  common::KmsClient kms_;
  Sealer sealer_;
  SealChecker checker_;
};

// A sealed JSON object written to s3://<bucket>/<key>.
void write_sealed(common::S3Client& s3, Sealer& sealer, const std::string& bucket,
                  const std::string& key, boost::json::object record);
// The JSON object at s3://<bucket>/<key> with its seal taken out, and why that seal is not
// CombineLogFiles' for the object at that place, if it is not. VerificationFailed when the file
// is not a JSON object (NoSuchKey as S3 answers it).
struct Unsealed {
  boost::json::object record;
  std::optional<std::string> problem;
};
Unsealed read_unsealed(common::S3Client& s3, SealChecker& checker, const std::string& bucket,
                       const std::string& key);

// The object at s3://<bucket>/<key>, unsealed: VerificationFailed naming the file and why when it
// is not JSON, not an object or not sealed for that place (NoSuchKey as S3 answers it).
boost::json::object read_sealed(common::S3Client& s3, SealChecker& checker,
                                const std::string& bucket, const std::string& key);

}  // namespace pipeline
