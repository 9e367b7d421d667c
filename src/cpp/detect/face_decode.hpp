// Decoders of face detector outputs (YuNet, SCRFD, RetinaFace) into boxes, scores and 5 landmarks in model
// input pixel coordinates. Output layouts are documented in docs/models.md.
#pragma once
#include <cstdint>
#include <vector>

namespace kuzet::vision {

enum class FaceFamily { YuNet, Scrfd, RetinaFace };

// One output tensor of one image: `rows` rows of `cols` floats (row-major).
struct Tensor2D {
  const float* data = nullptr;
  long rows = 0;
  long cols = 0;
  const float* row(long r) const { return data + r * cols; }
};

// The per-image outputs a family needs, in this order:
//   YuNet:      for s in 8,16,32: cls_s, obj_s, bbox_s, kps_s  (12)
//   SCRFD:      for s in 8,16,32: score_s, bbox_s, kps_s      (9)
//   RetinaFace: loc, conf, landmarks                          (3)
struct FaceCandidates {
  std::vector<float> boxes;      // x1,y1,x2,y2 per face
  std::vector<float> scores;
  std::vector<float> landmarks;  // 5 x (x,y) per face
  std::size_t size() const { return scores.size(); }
};

// Number of rows each output must have for an input of in_h x in_w (the family's anchor layout).
std::vector<long> expected_rows(FaceFamily family, int in_h, int in_w);
std::vector<long> expected_cols(FaceFamily family);

// Appends the candidates of one image with score > score_threshold.
void decode_faces(FaceFamily family, const std::vector<Tensor2D>& outputs, int in_h, int in_w,
                  float score_threshold, FaceCandidates& out);

}  // namespace kuzet::vision

namespace kuzet::vision {

// Transform of one image into the model input: orig = (model - pad) / scale (see preprocess.hpp).
struct InputTransform {
  float scale_x = 1.f, scale_y = 1.f, pad_x = 0.f, pad_y = 0.f;
};

// Decodes, thresholds, NMS and maps back to original image coordinates, for each image of a batch
// (outputs[i] are image i's tensors). max_faces > 0 keeps only the best max_faces per image.
std::vector<FaceCandidates> postprocess_faces(FaceFamily family, const std::vector<std::vector<Tensor2D>>& outputs,
                                              int in_h, int in_w, const std::vector<InputTransform>& transforms,
                                              float score_threshold, float nms_iou, int max_faces,
                                              unsigned threads = 0);

}  // namespace kuzet::vision
