#include "common/hashing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <stdexcept>

namespace common {

namespace {

std::string digest_of(std::string_view data, const EVP_MD* type) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, type, nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    text[2 * i] = kDigits[byte >> 4];
    text[2 * i + 1] = kDigits[byte & 0xf];
  }
  return text;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes(text.size() / 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = nibble(text[2 * i]);
    const int low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<char>(high << 4 | low);
  }
  return bytes;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes(text.size() / 4 * 3, '\0');
  const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                   reinterpret_cast<const unsigned char*>(text.data()),
                                   static_cast<int>(text.size()));
  if (size < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  bytes.resize(static_cast<std::size_t>(size) - padding);
  return bytes;
}

std::string base64_encode(std::string_view bytes) {
  std::string text((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                   reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(size));
  return text;
}

std::string sha256_hex(std::string_view data) {
  return hex_encode(digest_of(data, EVP_sha256()));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string md5_hex(std::string_view data) {
  return hex_encode(digest_of(data, EVP_md5()));
}

std::string md5_base64(std::string_view data) {
  const std::string digest = digest_of(data, EVP_md5());
  unsigned char encoded[64];
  const int size = EVP_EncodeBlock(encoded, reinterpret_cast<const unsigned char*>(digest.data()),
                                   static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(size));
}

struct Digest::Context {
  explicit Context(const EVP_MD* algorithm) : md(EVP_MD_CTX_new()), type(algorithm) {
    if (md == nullptr || EVP_DigestInit_ex(md, type, nullptr) != 1)
      throw std::runtime_error("cannot start a digest");
  }
  ~Context() { EVP_MD_CTX_free(md); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  EVP_MD_CTX* md;
  const EVP_MD* type;
};

Digest::Digest(Algorithm algorithm)
    : context_(std::make_unique<Context>(algorithm == Algorithm::kMd5 ? EVP_md5() : EVP_sha256())) {
}
Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(context_->md, data.data(), data.size());
}

std::string Digest::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->md, digest, &length);
  EVP_DigestInit_ex(context_->md, context_->type, nullptr);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

struct Ed25519Key::Pair {
  Pair() : key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")) {
    if (key == nullptr) throw std::runtime_error("cannot make an Ed25519 key");
  }
  ~Pair() { EVP_PKEY_free(key); }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  EVP_PKEY* key;
};

Ed25519Key::Ed25519Key() : pair_(std::make_unique<Pair>()) {
  std::size_t length = 32;
  public_key_.assign(length, '\0');
  if (EVP_PKEY_get_raw_public_key(pair_->key, reinterpret_cast<unsigned char*>(public_key_.data()),
                                  &length) != 1)
    throw std::runtime_error("cannot read an Ed25519 public key");
  public_key_.resize(length);
}
Ed25519Key::~Ed25519Key() = default;

std::string Ed25519Key::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  std::string signature(64, '\0');
  std::size_t length = signature.size();
  if (!context || EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, pair_->key) != 1 ||
      EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw std::runtime_error("cannot sign with Ed25519");
  signature.resize(length);
  return signature;
}

bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                  reinterpret_cast<const unsigned char*>(public_key.data()),
                                  public_key.size()),
      EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  return key && context &&
         EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace common
