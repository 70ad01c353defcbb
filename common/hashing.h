#pragma once
// Digests with OpenSSL, and the encodings they travel in: one-shot helpers, and SHA-256 over bytes
// that arrive in pieces (what an output's index records of each original, and what CloudTrail's
// digest files record of each log).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace common {

// Lower-case hex of any bytes (digests, signatures), and back: nullopt for text that is not hex.
std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);
// Standard base64 (with padding) to bytes: nullopt for text that is not base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

std::string sha256_hex(std::string_view data);
// The raw HMAC-SHA256 of `data` under `key` (SigV4's signing keys, KMS's HMAC_SHA_256).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string md5_base64(std::string_view data);
std::string md5_hex(std::string_view data);

// A digest over bytes that arrive in pieces.
class Digest {
 public:
  enum class Algorithm { kSha256, kMd5 };
  explicit Digest(Algorithm algorithm);
  ~Digest();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;

  void update(std::string_view data);
  // Lower-case hex of everything updated so far; the hasher starts afresh after it.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

class Sha256 : public Digest {
 public:
  Sha256() : Digest(Algorithm::kSha256) {}
};

// What S3 states as a single-part, unencrypted or SSE-S3 object's ETag.
class Md5 : public Digest {
 public:
  Md5() : Digest(Algorithm::kMd5) {}
};

// An Ed25519 key pair made in memory and never written anywhere: whoever holds the object signs.
class Ed25519Key {
 public:
  Ed25519Key();
  ~Ed25519Key();
  Ed25519Key(const Ed25519Key&) = delete;
  Ed25519Key& operator=(const Ed25519Key&) = delete;

  const std::string& public_key() const { return public_key_; }  // 32 raw bytes
  std::string sign(std::string_view message) const;              // 64 raw bytes

 private:
  struct Pair;
  std::unique_ptr<Pair> pair_;
  std::string public_key_;
};

// Whether `signature` is `public_key`'s (32 raw bytes) Ed25519 signature of `message`.
bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature);

}  // namespace common
