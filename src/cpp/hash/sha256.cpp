#include "hash/sha256.hpp"

#include <openssl/evp.h>

#include "common/errors.hpp"

namespace kuzet::hash {

namespace {

// Fetched once: an explicit fetch avoids OpenSSL 3's implicit algorithm lookup on every init.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw kuzet::Error("OpenSSL: SHA256 is not available in libcrypto");
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw kuzet::Error("OpenSSL: cannot allocate a digest context");
  reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::reset() {
  if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) throw kuzet::Error("OpenSSL: SHA256 init failed");
}

void Sha256::update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_, data, size) != 1) throw kuzet::Error("OpenSSL: SHA256 update failed");
}

Digest Sha256::finish() {
  Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
    throw kuzet::Error("OpenSSL: SHA256 final failed");
  }
  reset();
  return out;
}

Digest sha256(const void* data, std::size_t size) {
  Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data, size, out.data(), &len, sha256_md(), nullptr) != 1 || len != out.size()) {
    throw kuzet::Error("OpenSSL: SHA256 failed");
  }
  return out;
}

std::string to_hex(const Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(d.size() * 2);
  for (auto b : d) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

}  // namespace kuzet::hash
