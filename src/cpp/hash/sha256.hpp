// SHA-256 through OpenSSL libcrypto's EVP interface (which picks SHA-NI / AVX2 code paths at run time).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace kuzet::hash {

using Digest = std::array<std::uint8_t, 32>;

// Incremental SHA-256: update() any number of times, then finish(). Not copyable (owns an EVP context).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  // Returns the digest and resets the context, so the object can hash the next message.
  Digest finish();

 private:
  void reset();
  EVP_MD_CTX* ctx_;
};

Digest sha256(const void* data, std::size_t size);

std::string to_hex(const Digest& d);

}  // namespace kuzet::hash
