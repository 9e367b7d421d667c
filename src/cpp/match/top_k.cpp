#include "match/top_k.hpp"

#include <limits>

#include "preprocess/parallel.hpp"

namespace kuzet::match {

namespace {

// One row in a single pass: the k best so far are kept sorted in `cols_out`/`sims_out` (whose unfilled
// tail keeps the caller's padding). Columns arrive in ascending order, so once k are held a newcomer must
// beat the k-th strictly (an equal one comes later and ranks after it); until then anything at or above the
// threshold is taken. Most columns cost one compare, which is why this beats a full partition of the row
// (numpy's argpartition) by an order of magnitude.
void select_row(const float* row, std::size_t cols, std::size_t k, float threshold, int64_t* cols_out,
                float* sims_out) {
  std::size_t held = 0;
  float bar = threshold;
  for (std::size_t c = 0; c < cols; ++c) {
    const float s = row[c];
    if (held == k ? !(s > bar) : !(s >= bar)) continue;
    // Insert before the first held entry it beats; ties keep the earlier column first.
    std::size_t at = held == k ? k - 1 : held;
    while (at > 0 && s > sims_out[at - 1]) {
      sims_out[at] = sims_out[at - 1];
      cols_out[at] = cols_out[at - 1];
      --at;
    }
    sims_out[at] = s;
    cols_out[at] = static_cast<int64_t>(c);
    if (held < k) ++held;
    if (held == k) bar = sims_out[k - 1];
  }
}

}  // namespace

TopK top_k_rows(const float* sims, std::size_t rows, std::size_t cols, std::size_t k, float threshold,
                unsigned max_threads) {
  TopK out;
  out.columns.assign(rows * k, -1);
  out.similarities.assign(rows * k, std::numeric_limits<float>::quiet_NaN());
  if (k == 0) return out;
  vision::parallel_for(
      rows,
      [&](std::size_t r) {
        select_row(sims + r * cols, cols, k, threshold, &out.columns[r * k], &out.similarities[r * k]);
      },
      rows * cols >= (std::size_t{1} << 18) ? max_threads : 1u);
  return out;
}

}  // namespace kuzet::match
