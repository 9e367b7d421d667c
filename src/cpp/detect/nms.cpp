#include "detect/nms.hpp"

#include <algorithm>
#include <numeric>
#include <unordered_map>

namespace kuzet::vision {

namespace {

float iou(const float* a, const float* b) {
  const float ix = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const float iy = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (ix <= 0.f || iy <= 0.f) return 0.f;
  const float inter = ix * iy;
  const float area_a = std::max(0.f, a[2] - a[0]) * std::max(0.f, a[3] - a[1]);
  const float area_b = std::max(0.f, b[2] - b[0]) * std::max(0.f, b[3] - b[1]);
  const float uni = area_a + area_b - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

}  // namespace

std::vector<std::int64_t> nms(const float* boxes, const float* scores, const std::int32_t* groups, std::size_t k,
                              float iou_threshold) {
  std::vector<std::int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });

  // Kept boxes per group, so a candidate is only compared with boxes that may suppress it.
  std::unordered_map<std::int32_t, std::vector<std::int64_t>> kept_by_group;
  std::vector<std::int64_t> kept;
  for (const std::int64_t i : order) {
    auto& same_group = kept_by_group[groups ? groups[i] : 0];
    const float* box = boxes + 4 * i;
    const bool suppressed = std::any_of(same_group.begin(), same_group.end(),
                                        [&](std::int64_t j) { return iou(boxes + 4 * j, box) > iou_threshold; });
    if (!suppressed) {
      same_group.push_back(i);
      kept.push_back(i);
    }
  }
  return kept;
}

}  // namespace kuzet::vision
