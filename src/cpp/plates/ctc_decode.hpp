// Greedy CTC decoding of a recogniser's per-timestep class probabilities (PP-OCR style: class 0 = blank).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kuzet::plates {

// Decoded labels of a batch, flattened: row r owns labels[offsets[r] .. offsets[r + 1]).
struct CtcResult {
  std::vector<int32_t> labels;       // class indices (never the blank)
  std::vector<float> confidences;    // per label: highest probability over the timesteps of its run
  std::vector<int64_t> offsets;      // n + 1 entries
};

// `probs` is the contiguous [n, t, c] output. `allowed` (c bytes, may be null) restricts the argmax at
// each timestep to allowed classes plus the blank, e.g. plate characters only. `lengths` (n entries, may
// be null) limits row r to its first lengths[r] timesteps (the rest is width padding). Greedy decoding:
// argmax per timestep, collapse repeats, drop blanks.
CtcResult ctc_greedy_decode(const float* probs, size_t n, size_t t, size_t c, const uint8_t* allowed,
                            const int64_t* lengths);

}  // namespace kuzet::plates
