// Levenshtein distance for fuzzy hotlist matching of plate texts (after normalisation).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace kuzet::plates {

// Insertions, deletions and substitutions all cost 1. With `limit` >= 0, any distance above `limit` is
// reported as limit + 1 (computed in a band of width 2 * limit + 1, so it is cheap for small limits).
int edit_distance(const std::u32string& a, const std::u32string& b, int limit = -1);

// Wanted plates, searched for every plate within a distance of a query.
class PlateIndex {
 public:
  explicit PlateIndex(std::vector<std::u32string> plates) : plates_(std::move(plates)) {}
  // (index, distance) of every plate within max_distance of query, by distance then index.
  std::vector<std::pair<size_t, int>> search(const std::u32string& query, int max_distance) const;
  size_t size() const { return plates_.size(); }

 private:
  std::vector<std::u32string> plates_;
};

}  // namespace kuzet::plates
