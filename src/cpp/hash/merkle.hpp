// RFC 6962 / RFC 9162 Merkle tree hashing: leaf and node hashes, tree roots, inclusion and consistency
// proofs, and their verification. Leaves are given as leaf hashes (SHA256(0x00 || record)).
#pragma once
#include <cstdint>
#include <vector>

#include "hash/sha256.hpp"

namespace kuzet::hash {

Digest leaf_hash(const void* data, std::size_t size);                // SHA256(0x00 || data)
Digest node_hash(const Digest& left, const Digest& right);           // SHA256(0x01 || left || right)
Digest empty_tree_root();                                            // SHA256("")

// MTH of the first tree_size leaves (tree_size <= leaves.size()).
Digest tree_root(const std::vector<Digest>& leaves, std::uint64_t tree_size);

// RFC 6962 PATH(index, D[tree_size]), ordered from the leaf's sibling up to the root's child.
std::vector<Digest> inclusion_proof(const std::vector<Digest>& leaves, std::uint64_t index,
                                    std::uint64_t tree_size);

// RFC 6962 PROOF(size1, D[size2]) for 0 < size1 <= size2 <= leaves.size().
std::vector<Digest> consistency_proof(const std::vector<Digest>& leaves, std::uint64_t size1,
                                      std::uint64_t size2);

// RFC 9162 s2.1.3.2. False for any proof that does not prove exactly this leaf at this index.
bool verify_inclusion(const Digest& leaf, std::uint64_t index, std::uint64_t tree_size,
                      const std::vector<Digest>& proof, const Digest& root);

// RFC 9162 s2.1.4.2, plus: size1 == 0 is rejected; size1 == size2 needs an empty proof and equal roots.
bool verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<Digest>& proof,
                        const Digest& root1, const Digest& root2);

}  // namespace kuzet::hash
