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

std::string sha256_hex(std::string_view data);
std::string md5_base64(std::string_view data);
std::string md5_hex(std::string_view data);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view data);
  // Lower-case hex of everything updated so far; the hasher starts afresh after it.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace common
