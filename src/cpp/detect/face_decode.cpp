#include "detect/face_decode.hpp"

#include <algorithm>
#include <cmath>

namespace kuzet::vision {

namespace {

constexpr int kStrides[3] = {8, 16, 32};

void push_face(FaceCandidates& out, float score, float x1, float y1, float x2, float y2, const float* lm) {
  out.scores.push_back(score);
  out.boxes.insert(out.boxes.end(), {x1, y1, x2, y2});
  out.landmarks.insert(out.landmarks.end(), lm, lm + 10);
}

// YuNet: one prior per cell; score = sqrt(cls * obj); box centre/size and landmarks relative to the cell.
void decode_yunet(const std::vector<Tensor2D>& t, int in_w, float thr, FaceCandidates& out) {
  for (int si = 0; si < 3; ++si) {
    const int s = kStrides[si];
    const long cols = in_w / s;
    const Tensor2D &cls = t[4 * si], &obj = t[4 * si + 1], &bbox = t[4 * si + 2], &kps = t[4 * si + 3];
    for (long n = 0; n < cls.rows; ++n) {
      const float c = std::clamp(cls.row(n)[0], 0.f, 1.f), o = std::clamp(obj.row(n)[0], 0.f, 1.f);
      const float score = std::sqrt(c * o);
      if (!(score > thr)) continue;
      const float col = static_cast<float>(n % cols), row = static_cast<float>(n / cols);
      const float* b = bbox.row(n);
      const float cx = (col + b[0]) * s, cy = (row + b[1]) * s;
      const float w = std::exp(b[2]) * s, h = std::exp(b[3]) * s;
      float lm[10];
      const float* k = kps.row(n);
      for (int i = 0; i < 5; ++i) {
        lm[2 * i] = (col + k[2 * i]) * s;
        lm[2 * i + 1] = (row + k[2 * i + 1]) * s;
      }
      push_face(out, score, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, lm);
    }
  }
}

// SCRFD: 2 anchors per cell centred at (col, row) * s; boxes are distances (l, t, r, b) in stride units.
void decode_scrfd(const std::vector<Tensor2D>& t, int in_w, float thr, FaceCandidates& out) {
  for (int si = 0; si < 3; ++si) {
    const int s = kStrides[si];
    const long cols = in_w / s;
    const Tensor2D &score = t[3 * si], &bbox = t[3 * si + 1], &kps = t[3 * si + 2];
    for (long n = 0; n < score.rows; ++n) {
      const float p = score.row(n)[0];
      if (!(p > thr)) continue;
      const long cell = n / 2;
      const float ax = static_cast<float>((cell % cols) * s), ay = static_cast<float>((cell / cols) * s);
      const float* b = bbox.row(n);
      float lm[10];
      const float* k = kps.row(n);
      for (int i = 0; i < 5; ++i) {
        lm[2 * i] = ax + k[2 * i] * s;
        lm[2 * i + 1] = ay + k[2 * i + 1] * s;
      }
      push_face(out, p, ax - b[0] * s, ay - b[1] * s, ax + b[2] * s, ay + b[3] * s, lm);
    }
  }
}

// RetinaFace (Pytorch_Retinaface): priors min_sizes {16,32},{64,128},{256,512} at steps 8,16,32,
// centre-size encoding with variances 0.1 / 0.2.
void decode_retinaface(const std::vector<Tensor2D>& t, int in_h, int in_w, float thr, FaceCandidates& out) {
  static const int kMinSizes[3][2] = {{16, 32}, {64, 128}, {256, 512}};
  const Tensor2D &loc = t[0], &conf = t[1], &land = t[2];
  long n = 0;
  for (int si = 0; si < 3; ++si) {
    const int s = kStrides[si];
    const long rows = (in_h + s - 1) / s, cols = (in_w + s - 1) / s;
    for (long r = 0; r < rows; ++r) {
      for (long c = 0; c < cols; ++c) {
        for (int a = 0; a < 2; ++a, ++n) {
          const float p = conf.row(n)[1];
          if (!(p > thr)) continue;
          const float pw = static_cast<float>(kMinSizes[si][a]), ph = pw;  // prior size in pixels
          const float pcx = (static_cast<float>(c) + 0.5f) * s, pcy = (static_cast<float>(r) + 0.5f) * s;
          const float* l = loc.row(n);
          const float cx = pcx + l[0] * 0.1f * pw, cy = pcy + l[1] * 0.1f * ph;
          const float w = pw * std::exp(l[2] * 0.2f), h = ph * std::exp(l[3] * 0.2f);
          float lm[10];
          const float* k = land.row(n);
          for (int i = 0; i < 5; ++i) {
            lm[2 * i] = pcx + k[2 * i] * 0.1f * pw;
            lm[2 * i + 1] = pcy + k[2 * i + 1] * 0.1f * ph;
          }
          push_face(out, p, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, lm);
        }
      }
    }
  }
}

}  // namespace

std::vector<long> expected_rows(FaceFamily family, int in_h, int in_w) {
  std::vector<long> rows;
  switch (family) {
    case FaceFamily::YuNet:
      for (int s : kStrides) rows.insert(rows.end(), 4, static_cast<long>(in_h / s) * (in_w / s));
      break;
    case FaceFamily::Scrfd:
      for (int s : kStrides) rows.insert(rows.end(), 3, 2L * (in_h / s) * (in_w / s));
      break;
    case FaceFamily::RetinaFace: {
      long p = 0;
      for (int s : kStrides) p += 2L * ((in_h + s - 1) / s) * ((in_w + s - 1) / s);
      rows.assign(3, p);
      break;
    }
  }
  return rows;
}

std::vector<long> expected_cols(FaceFamily family) {
  switch (family) {
    case FaceFamily::YuNet:
      return {1, 1, 4, 10, 1, 1, 4, 10, 1, 1, 4, 10};
    case FaceFamily::Scrfd:
      return {1, 4, 10, 1, 4, 10, 1, 4, 10};
    case FaceFamily::RetinaFace:
      return {4, 2, 10};
  }
  return {};
}

void decode_faces(FaceFamily family, const std::vector<Tensor2D>& outputs, int in_h, int in_w,
                  float score_threshold, FaceCandidates& out) {
  switch (family) {
    case FaceFamily::YuNet:
      decode_yunet(outputs, in_w, score_threshold, out);
      break;
    case FaceFamily::Scrfd:
      decode_scrfd(outputs, in_w, score_threshold, out);
      break;
    case FaceFamily::RetinaFace:
      decode_retinaface(outputs, in_h, in_w, score_threshold, out);
      break;
  }
}

}  // namespace kuzet::vision
