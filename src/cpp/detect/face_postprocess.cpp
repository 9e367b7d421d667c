#include <cstddef>

#include "detect/face_decode.hpp"
#include "detect/nms.hpp"
#include "preprocess/parallel.hpp"

namespace kuzet::vision {

namespace {

FaceCandidates keep(const FaceCandidates& all, const std::vector<std::int64_t>& kept, const InputTransform& t) {
  FaceCandidates out;
  out.scores.reserve(kept.size());
  for (const std::int64_t k : kept) {
    const auto i = static_cast<std::size_t>(k);
    out.scores.push_back(all.scores[i]);
    for (int c = 0; c < 4; ++c) {
      const float v = all.boxes[4 * i + static_cast<std::size_t>(c)];
      out.boxes.push_back(c % 2 == 0 ? (v - t.pad_x) / t.scale_x : (v - t.pad_y) / t.scale_y);
    }
    for (int c = 0; c < 10; ++c) {
      const float v = all.landmarks[10 * i + static_cast<std::size_t>(c)];
      out.landmarks.push_back(c % 2 == 0 ? (v - t.pad_x) / t.scale_x : (v - t.pad_y) / t.scale_y);
    }
  }
  return out;
}

}  // namespace

std::vector<FaceCandidates> postprocess_faces(FaceFamily family, const std::vector<std::vector<Tensor2D>>& outputs,
                                              int in_h, int in_w, const std::vector<InputTransform>& transforms,
                                              float score_threshold, float nms_iou, int max_faces,
                                              unsigned threads) {
  std::vector<FaceCandidates> results(outputs.size());
  parallel_for(outputs.size(), [&](std::size_t i) {
    FaceCandidates all;
    decode_faces(family, outputs[i], in_h, in_w, score_threshold, all);
    std::vector<std::int64_t> kept = nms(all.boxes.data(), all.scores.data(), nullptr, all.size(), nms_iou);
    if (max_faces > 0 && kept.size() > static_cast<std::size_t>(max_faces))
      kept.resize(static_cast<std::size_t>(max_faces));
    results[i] = keep(all, kept, transforms[i]);
  }, threads);
  return results;
}

}  // namespace kuzet::vision
