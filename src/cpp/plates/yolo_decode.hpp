// Decoding of YOLO-style detector outputs [N, M, 5 + 2K + nc] into frame-coordinate candidates.
// Row layout: cx, cy, w, h, objectness, K corner points (x, y), nc class scores; score = obj * max(class).
// HyperLPR3 "y5fu" plate detectors have K = 4 corners (TL, TR, BR, BL) and 2 classes (single, double row);
// plain YOLO plate detectors have K = 0. Non-maximum suppression is a separate step (vision nms).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kuzet::plates {

struct YoloLayout {
  int corner_count = 4;  // K
  float score_threshold = 0.5F;
};

// All candidates of a batch whose score passes the threshold, as parallel arrays.
struct YoloCandidates {
  std::vector<int32_t> image;    // index of the frame in the batch
  std::vector<float> boxes;      // x1, y1, x2, y2 per candidate, frame pixels
  std::vector<float> corners;    // 2K floats per candidate, frame pixels
  std::vector<float> scores;
  std::vector<int32_t> classes;  // argmax class
  size_t size() const { return scores.size(); }
};

// `output` is the contiguous [n, m, c] model output; `transforms` is [n, 4] = (scale_x, scale_y, pad_x, pad_y)
// from preprocessing, so frame_x = (model_x - pad_x) / scale_x. Throws InvalidArgument on a layout that
// does not fit c or a non-positive scale. Rows with non-finite values are skipped, never emitted.
YoloCandidates decode_yolo(const float* output, size_t n, size_t m, size_t c, const float* transforms,
                           const YoloLayout& layout);

}  // namespace kuzet::plates
