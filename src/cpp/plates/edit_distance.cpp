#include "plates/edit_distance.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "common/errors.hpp"

namespace kuzet::plates {

int edit_distance(const std::u32string& a, const std::u32string& b, int limit) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int band = limit < 0 ? std::max(n, m) : limit;
  if (std::abs(n - m) > band) return band + 1;
  const int big = band + 1;
  // Two rows of the DP table; cells outside the band hold `big` (already over the limit).
  std::vector<int> prev(static_cast<size_t>(m) + 1, big), cur(static_cast<size_t>(m) + 1, big);
  for (int j = 0; j <= std::min(m, band); ++j) prev[static_cast<size_t>(j)] = j;
  for (int i = 1; i <= n; ++i) {
    const int lo = std::max(1, i - band);
    const int hi = std::min(m, i + band);
    std::fill(cur.begin(), cur.end(), big);
    if (i <= band) cur[0] = i;
    int row_min = cur[0];
    for (int j = lo; j <= hi; ++j) {
      const auto uj = static_cast<size_t>(j);
      const int substitute = prev[uj - 1] + (a[static_cast<size_t>(i - 1)] == b[uj - 1] ? 0 : 1);
      const int value = std::min({substitute, prev[uj] + 1, cur[uj - 1] + 1, big});
      cur[uj] = value;
      row_min = std::min(row_min, value);
    }
    if (row_min >= big) return big;  // every path already exceeds the limit
    std::swap(prev, cur);
  }
  return std::min(prev[static_cast<size_t>(m)], big);
}

std::vector<std::pair<size_t, int>> PlateIndex::search(const std::u32string& query, int max_distance) const {
  if (max_distance < 0) throw InvalidArgument("max_distance must be >= 0");
  std::vector<std::pair<size_t, int>> hits;
  for (size_t i = 0; i < plates_.size(); ++i) {
    const int d = edit_distance(query, plates_[i], max_distance);
    if (d <= max_distance) hits.emplace_back(i, d);
  }
  std::sort(hits.begin(), hits.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second < y.second : x.first < y.first;
  });
  return hits;
}

}  // namespace kuzet::plates
