// Ed25519 keys (PEM: PKCS#8 private, SubjectPublicKeyInfo public) and signatures through OpenSSL EVP.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "hash/evidence_errors.hpp"

namespace kuzet::hash {

struct Ed25519KeyPair {
  std::string private_pem;
  std::string public_pem;
};

Ed25519KeyPair generate_ed25519_keypair();
std::string ed25519_public_pem(const std::string& private_pem);
std::array<std::uint8_t, 32> ed25519_raw_public_key(const std::string& public_pem);
std::string ed25519_sign(const std::string& private_pem, const std::string& message);  // 64 bytes
bool ed25519_verify(const std::string& public_pem, const std::string& message, const std::string& signature);

}  // namespace kuzet::hash
