// Errors of the evidence (hashing/signing/segmenting) capability, mapped to kuzet.evidence.* in Python.
#pragma once
#include "common/errors.hpp"

namespace kuzet::hash {

// The input media cannot be opened or demuxed (-> kuzet.evidence.EvidenceError).
struct EvidenceError : kuzet::Error {
  using kuzet::Error::Error;
};

// A key that cannot be parsed or is not an Ed25519 key (-> kuzet.evidence.KeyFormatError).
struct KeyFormatError : EvidenceError {
  using EvidenceError::EvidenceError;
};

}  // namespace kuzet::hash
