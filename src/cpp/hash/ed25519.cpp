#include "hash/ed25519.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace kuzet::hash {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

// Drains OpenSSL's thread-local error queue into one message, so no stale error leaks into a later call.
std::string openssl_errors() {
  std::string msg;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!msg.empty()) msg += "; ";
    msg += buf;
  }
  return msg.empty() ? "unknown OpenSSL error" : msg;
}

// Refuses passphrase-protected keys instead of letting OpenSSL prompt on the terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

Bio memory_bio(const std::string& data) {
  Bio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) throw kuzet::Error("OpenSSL: cannot allocate a memory BIO");
  return bio;
}

void require_ed25519(const Pkey& key, const char* what) {
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    throw KeyFormatError(std::string(what) + " is not an Ed25519 key");
  }
}

Pkey load_private(const std::string& pem) {
  Bio bio = memory_bio(pem);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) throw KeyFormatError("cannot read the Ed25519 private key (PEM PKCS#8 expected, unencrypted): " + openssl_errors());
  require_ed25519(key, "the private key");
  return key;
}

Pkey load_public(const std::string& pem) {
  Bio bio = memory_bio(pem);
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) throw KeyFormatError("cannot read the Ed25519 public key (PEM SubjectPublicKeyInfo expected): " + openssl_errors());
  require_ed25519(key, "the public key");
  return key;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string public_pem_of(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1) throw kuzet::Error("OpenSSL: " + openssl_errors());
  return bio_contents(out.get());
}

}  // namespace

Ed25519KeyPair generate_ed25519_keypair() {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    throw kuzet::Error("OpenSSL: Ed25519 key generation failed: " + openssl_errors());
  }
  Pkey key(raw);
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw kuzet::Error("OpenSSL: " + openssl_errors());
  }
  return {bio_contents(out.get()), public_pem_of(key.get())};
}

std::string ed25519_public_pem(const std::string& private_pem) {
  Pkey key = load_private(private_pem);
  return public_pem_of(key.get());
}

std::array<std::uint8_t, 32> ed25519_raw_public_key(const std::string& public_pem) {
  Pkey key = load_public(public_pem);
  std::array<std::uint8_t, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), raw.data(), &len) != 1 || len != raw.size()) {
    throw KeyFormatError("cannot extract the raw Ed25519 public key: " + openssl_errors());
  }
  return raw;
}

std::string ed25519_sign(const std::string& private_pem, const std::string& message) {
  Pkey key = load_private(private_pem);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != 64) {
    throw kuzet::Error("OpenSSL: Ed25519 signing failed: " + openssl_errors());
  }
  return sig;
}

bool ed25519_verify(const std::string& public_pem, const std::string& message, const std::string& signature) {
  Pkey key = load_public(public_pem);
  if (signature.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    throw kuzet::Error("OpenSSL: Ed25519 verify init failed: " + openssl_errors());
  }
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                  signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
  ERR_clear_error();  // a bad signature leaves an entry in the queue; it is an answer, not an error
  return ok == 1;
}

}  // namespace kuzet::hash
