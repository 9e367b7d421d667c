#include "plates/ctc_decode.hpp"

#include <algorithm>
#include <string>

#include "common/errors.hpp"

namespace kuzet::plates {

CtcResult ctc_greedy_decode(const float* probs, size_t n, size_t t, size_t c, const uint8_t* allowed,
                            const int64_t* lengths) {
  if (c < 2) throw InvalidArgument("CTC output needs at least 2 classes (blank + 1), got " + std::to_string(c));
  CtcResult out;
  out.offsets.reserve(n + 1);
  out.offsets.push_back(0);
  for (size_t r = 0; r < n; ++r) {
    size_t steps = t;
    if (lengths != nullptr) {
      if (lengths[r] < 0) throw InvalidArgument("CTC lengths must be >= 0");
      steps = std::min(t, static_cast<size_t>(lengths[r]));
    }
    int32_t previous = 0;
    for (size_t s = 0; s < steps; ++s) {
      const float* row = probs + (r * t + s) * c;
      int32_t best = 0;
      float best_p = row[0];
      for (size_t k = 1; k < c; ++k) {
        if ((allowed == nullptr || allowed[k] != 0) && row[k] > best_p) {
          best_p = row[k];
          best = static_cast<int32_t>(k);
        }
      }
      if (best != 0 && best == previous) {
        // Same character continues: its confidence is the best timestep of the run.
        out.confidences.back() = std::max(out.confidences.back(), best_p);
      } else if (best != 0) {
        out.labels.push_back(best);
        out.confidences.push_back(best_p);
      }
      previous = best;
    }
    out.offsets.push_back(static_cast<int64_t>(out.labels.size()));
  }
  return out;
}

}  // namespace kuzet::plates
