#include "hash/merkle.hpp"

#include "common/errors.hpp"

namespace kuzet::hash {

namespace {

// Largest power of two strictly smaller than n (n >= 2): the RFC 6962 split point.
std::uint64_t split_point(std::uint64_t n) {
  std::uint64_t k = 1;
  while ((k << 1) < n) k <<= 1;
  return k;
}

// MTH(D[begin:end]) over leaf hashes, end > begin.
Digest subtree_root(const std::vector<Digest>& leaves, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (n == 1) return leaves[begin];
  const std::uint64_t k = split_point(n);
  return node_hash(subtree_root(leaves, begin, begin + k), subtree_root(leaves, begin + k, end));
}

void path(const std::vector<Digest>& leaves, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
          std::vector<Digest>& out) {
  const std::uint64_t n = end - begin;
  if (n <= 1) return;
  const std::uint64_t k = split_point(n);
  if (m < k) {
    path(leaves, m, begin, begin + k, out);
    out.push_back(subtree_root(leaves, begin + k, end));
  } else {
    path(leaves, m - k, begin + k, end, out);
    out.push_back(subtree_root(leaves, begin, begin + k));
  }
}

void subproof(const std::vector<Digest>& leaves, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
              bool complete_subtree, std::vector<Digest>& out) {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (!complete_subtree) out.push_back(subtree_root(leaves, begin, end));
    return;
  }
  const std::uint64_t k = split_point(n);
  if (m <= k) {
    subproof(leaves, m, begin, begin + k, complete_subtree, out);
    out.push_back(subtree_root(leaves, begin + k, end));
  } else {
    subproof(leaves, m - k, begin + k, end, false, out);
    out.push_back(subtree_root(leaves, begin, begin + k));
  }
}

bool lsb(std::uint64_t x) { return (x & 1u) != 0; }

}  // namespace

Digest leaf_hash(const void* data, std::size_t size) {
  Sha256 h;
  const std::uint8_t prefix = 0x00;
  h.update(&prefix, 1);
  h.update(data, size);
  return h.finish();
}

Digest node_hash(const Digest& left, const Digest& right) {
  std::uint8_t buf[1 + 32 + 32];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 33);
  return sha256(buf, sizeof buf);
}

Digest empty_tree_root() { return sha256(nullptr, 0); }

Digest tree_root(const std::vector<Digest>& leaves, std::uint64_t tree_size) {
  if (tree_size > leaves.size()) throw InvalidArgument("tree_size is larger than the number of leaves");
  if (tree_size == 0) return empty_tree_root();
  return subtree_root(leaves, 0, tree_size);
}

std::vector<Digest> inclusion_proof(const std::vector<Digest>& leaves, std::uint64_t index,
                                    std::uint64_t tree_size) {
  if (tree_size > leaves.size()) throw InvalidArgument("tree_size is larger than the number of leaves");
  if (index >= tree_size) throw InvalidArgument("leaf index must be smaller than tree_size");
  std::vector<Digest> out;
  path(leaves, index, 0, tree_size, out);
  return out;
}

std::vector<Digest> consistency_proof(const std::vector<Digest>& leaves, std::uint64_t size1,
                                      std::uint64_t size2) {
  if (size2 > leaves.size()) throw InvalidArgument("size2 is larger than the number of leaves");
  if (size1 == 0 || size1 > size2) throw InvalidArgument("consistency proofs need 0 < size1 <= size2");
  std::vector<Digest> out;
  subproof(leaves, size1, 0, size2, true, out);
  return out;
}

bool verify_inclusion(const Digest& leaf, std::uint64_t index, std::uint64_t tree_size,
                      const std::vector<Digest>& proof, const Digest& root) {
  if (index >= tree_size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = tree_size - 1;
  Digest r = leaf;
  for (const Digest& p : proof) {
    if (sn == 0) return false;
    if (lsb(fn) || fn == sn) {
      r = node_hash(p, r);
      if (!lsb(fn)) {
        do {
          fn >>= 1;
          sn >>= 1;
        } while (!lsb(fn) && fn != 0);
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<Digest>& proof,
                        const Digest& root1, const Digest& root2) {
  if (size1 == 0 || size2 < size1) return false;
  if (size1 == size2) return proof.empty() && root1 == root2;
  if (proof.empty()) return false;

  // A power-of-two first tree is a complete subtree of the second; its root is the proof's implicit start.
  std::vector<Digest> p;
  p.reserve(proof.size() + 1);
  if ((size1 & (size1 - 1)) == 0) p.push_back(root1);
  p.insert(p.end(), proof.begin(), proof.end());

  std::uint64_t fn = size1 - 1;
  std::uint64_t sn = size2 - 1;
  while (lsb(fn)) {
    fn >>= 1;
    sn >>= 1;
  }
  Digest fr = p[0];
  Digest sr = p[0];
  for (std::size_t i = 1; i < p.size(); ++i) {
    const Digest& c = p[i];
    if (sn == 0) return false;
    if (lsb(fn) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!lsb(fn)) {
        do {
          fn >>= 1;
          sn >>= 1;
        } while (!lsb(fn) && fn != 0);
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == root1 && sr == root2;
}

}  // namespace kuzet::hash
