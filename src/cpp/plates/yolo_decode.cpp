#include "plates/yolo_decode.hpp"

#include <cmath>
#include <string>

#include "common/errors.hpp"

namespace kuzet::plates {

namespace {

constexpr int kMaxCorners = 16;

bool all_finite(const float* row, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(row[i])) return false;
  }
  return true;
}

}  // namespace

YoloCandidates decode_yolo(const float* output, size_t n, size_t m, size_t c, const float* transforms,
                           const YoloLayout& layout) {
  if (layout.corner_count < 0 || layout.corner_count > kMaxCorners) {
    throw InvalidArgument("corner_count must be within [0, " + std::to_string(kMaxCorners) + "]");
  }
  const size_t corner_values = 2 * static_cast<size_t>(layout.corner_count);
  const size_t first_class = 5 + 2 * static_cast<size_t>(layout.corner_count);
  if (c <= first_class) {
    throw InvalidArgument("detector output rows have " + std::to_string(c) + " values, but " +
                          std::to_string(layout.corner_count) + " corners need at least " +
                          std::to_string(first_class + 1) + " (box, objectness, corners, >= 1 class)");
  }
  if (!(layout.score_threshold >= 0.0F && layout.score_threshold <= 1.0F)) {
    throw InvalidArgument("score_threshold must be within [0, 1]");
  }
  YoloCandidates out;
  for (size_t img = 0; img < n; ++img) {
    const float sx = transforms[img * 4 + 0];
    const float sy = transforms[img * 4 + 1];
    const float px = transforms[img * 4 + 2];
    const float py = transforms[img * 4 + 3];
    if (!(sx > 0.0F && sy > 0.0F) || !std::isfinite(px) || !std::isfinite(py)) {
      throw InvalidArgument("transform of image " + std::to_string(img) +
                            " must have positive finite scales and finite padding");
    }
    for (size_t j = 0; j < m; ++j) {
      const float* row = output + (img * m + j) * c;
      const float obj = row[4];
      if (!(obj >= layout.score_threshold)) continue;  // cheap early reject: score <= obj for scores in [0,1]
      int32_t best_class = 0;
      float best = row[first_class];
      for (size_t k = first_class + 1; k < c; ++k) {
        if (row[k] > best) {
          best = row[k];
          best_class = static_cast<int32_t>(k - first_class);
        }
      }
      const float score = obj * best;
      if (!(score >= layout.score_threshold) || !std::isfinite(score) || !all_finite(row, first_class)) continue;
      // Frame coordinates; huge finite model values can still overflow here, so check the results too.
      float mapped[4 + 2 * kMaxCorners];
      const float cx = row[0], cy = row[1], hw = row[2] * 0.5F, hh = row[3] * 0.5F;
      mapped[0] = (cx - hw - px) / sx;
      mapped[1] = (cy - hh - py) / sy;
      mapped[2] = (cx + hw - px) / sx;
      mapped[3] = (cy + hh - py) / sy;
      for (size_t k = 0; k < corner_values; k += 2) {
        mapped[4 + k] = (row[5 + k] - px) / sx;
        mapped[5 + k] = (row[6 + k] - py) / sy;
      }
      if (!all_finite(mapped, 4 + corner_values)) continue;
      out.image.push_back(static_cast<int32_t>(img));
      out.boxes.insert(out.boxes.end(), mapped, mapped + 4);
      out.corners.insert(out.corners.end(), mapped + 4, mapped + 4 + corner_values);
      out.scores.push_back(score);
      out.classes.push_back(best_class);
    }
  }
  return out;
}

}  // namespace kuzet::plates
