// Top-k selection over rows of a similarity matrix, for watchlist search: the k best columns of each row at
// or above a threshold, ordered by similarity (descending) then column (ascending, i.e. enrolment order).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kuzet::match {

struct TopK {
  // rows * k entries, row-major, best first; a row with fewer than k columns at or above the threshold is
  // padded with column -1 and similarity NaN.
  std::vector<int64_t> columns;
  std::vector<float> similarities;
};

// sims: rows x cols float32, row-major. A NaN similarity is never selected. Rows are spread over up to
// max_threads native threads (0: KUZET_NUM_THREADS or the hardware's).
TopK top_k_rows(const float* sims, std::size_t rows, std::size_t cols, std::size_t k, float threshold,
                unsigned max_threads = 0);

}  // namespace kuzet::match
