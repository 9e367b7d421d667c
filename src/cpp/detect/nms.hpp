// Greedy non-maximum suppression over axis-aligned boxes, optionally per group (image or class).
#pragma once
#include <cstdint>
#include <vector>

namespace kuzet::vision {

// boxes: K*4 floats (x1, y1, x2, y2); scores: K; groups: K ints or nullptr (one group).
// Returns the kept indices sorted by descending score (ties: lower index first). A box is suppressed by a
// kept, higher-scored box of the same group whose IoU with it exceeds iou_threshold.
std::vector<std::int64_t> nms(const float* boxes, const float* scores, const std::int32_t* groups, std::size_t k,
                              float iou_threshold);

}  // namespace kuzet::vision
