// Per-output-pixel work of the CUDA pre-processing and warp kernels (vision_cuda.cu), as __host__ __device__
// functions: the kernels only find their pixel and call these, and the host twin (vision_on_host.cpp) calls
// the very same code for every pixel, so the kernels' arithmetic is tested on machines without a GPU.
// Every function reads sources through DeviceImage (device addresses in the kernels, host ones in the twin).
#pragma once
#include <cstddef>
#include <cstdint>

#include "preprocess/yuv_pixel.hpp"

namespace kuzet::vision::cuda {

// A source image: rows of width*3 bytes, row_stride bytes apart; or NV12 (nv12 != 0): data is the luma
// plane, uv the U/V plane (height/2 rows of width bytes, uv_stride apart), converted with yuv.
struct DeviceImage {
  const std::uint8_t* data;
  long long row_stride;
  int height, width;
  int nv12;
  const std::uint8_t* uv;
  long long uv_stride;
  YuvToRgb yuv;
};

// Where one image lands in the model input (from plan_resize).
struct PlanParams {
  int new_w, new_h, pad_x, pad_y;
  float ratio_x, ratio_y;  // source pixels per resized pixel
};

// What the model input wants: output channel c = value * mul[c] + add[c], channel 0 blue when bgr; `pad`
// (already normalised) fills the letterbox.
struct Normalise {
  float mul[3];
  float add[3];
  int bgr;
  float pad;
};

KUZET_PIXEL_HD Nv12Planes planes_of(const DeviceImage& img) {
  Nv12Planes p;
  p.y = img.data;
  p.uv = img.uv;
  p.y_stride = img.row_stride;
  p.uv_stride = img.uv_stride;
  p.width = img.width;
  p.height = img.height;
  p.m = img.yuv;
  return p;
}

// One tap pair of a bilinear resize with half-pixel centres (like cv2.INTER_LINEAR): output position d
// reads source position (d + 0.5) * ratio - 0.5, edge pixels replicated.
KUZET_PIXEL_HD void resize_tap(int d, float ratio, int in, int& i0, int& i1, float& w1) {
  const float f = (d + 0.5f) * ratio - 0.5f;
  int s = static_cast<int>(::floorf(f));
  float a = f - s;
  if (s < 0) {
    s = 0;
    a = 0.f;
  }
  if (s >= in - 1) {
    s = in - 1;
    a = 0.f;
  }
  i0 = s;
  i1 = s + 1 < in - 1 ? s + 1 : in - 1;
  w1 = a;
}

KUZET_PIXEL_HD void rgb_resize_sample(const DeviceImage& img, int x0, int x1, float ax, int y0, int y1, float ay,
                                      float v[3]) {
  const std::uint8_t* r0 = img.data + static_cast<long long>(y0) * img.row_stride;
  const std::uint8_t* r1 = img.data + static_cast<long long>(y1) * img.row_stride;
  for (int c = 0; c < 3; ++c) {
    const float top = r0[3 * x0 + c] + ax * (r0[3 * x1 + c] - r0[3 * x0 + c]);
    const float bottom = r1[3 * x0 + c] + ax * (r1[3 * x1 + c] - r1[3 * x0 + c]);
    v[c] = top + ay * (bottom - top);
  }
}

// Output pixel (x, y) of one image's model input: `out` is that image's 3 planes of out_h*out_w floats.
KUZET_PIXEL_HD void preprocess_pixel(const DeviceImage& img, const PlanParams& p, const Normalise& norm, int out_h,
                                     int out_w, int x, int y, float* out) {
  const std::size_t plane = static_cast<std::size_t>(out_h) * out_w;
  float* dst = out + static_cast<std::size_t>(y) * out_w + x;
  const int dx = x - p.pad_x, dy = y - p.pad_y;
  if (dx < 0 || dy < 0 || dx >= p.new_w || dy >= p.new_h) {
    dst[0] = dst[plane] = dst[2 * plane] = norm.pad;
    return;
  }
  int x0, x1, y0, y1;
  float ax, ay;
  resize_tap(dx, p.ratio_x, img.width, x0, x1, ax);
  resize_tap(dy, p.ratio_y, img.height, y0, y1, ay);
  float v[3];
  if (img.nv12) {
    // Chroma: the same mapping over the half-size plane (centred siting), as the CPU version does.
    int cx0, cx1, cy0, cy1;
    float acx, acy;
    resize_tap(dx, 0.5f * p.ratio_x, img.width / 2, cx0, cx1, acx);
    resize_tap(dy, 0.5f * p.ratio_y, img.height / 2, cy0, cy1, acy);
    nv12_resize_sample(planes_of(img), x0, x1, ax, y0, y1, ay, cx0, cx1, acx, cy0, cy1, acy, v);
  } else {
    rgb_resize_sample(img, x0, x1, ax, y0, y1, ay, v);
  }
  const float c0 = norm.bgr ? v[2] : v[0], c2 = norm.bgr ? v[0] : v[2];
  dst[0] = c0 * norm.mul[0] + norm.add[0];
  dst[plane] = v[1] * norm.mul[1] + norm.add[1];
  dst[2 * plane] = c2 * norm.mul[2] + norm.add[2];
}

KUZET_PIXEL_HD std::uint8_t to_level(float v) {
  return static_cast<std::uint8_t>(::fminf(::fmaxf(v, 0.f), 255.f));
}

// Output pixel (x, y) of one crop: `dst` is its 3 bytes, `m` the crop's 3x3 matrix (output -> source,
// row-major). Taps outside the image read `border`; a point with no finite source (w == 0, NaN, or beyond
// 2^24) is `border`.
KUZET_PIXEL_HD void warp_pixel(const DeviceImage& img, const double* m, int x, int y, int border,
                               std::uint8_t* dst) {
  double sx = m[0] * x + m[1] * y + m[2];
  double sy = m[3] * x + m[4] * y + m[5];
  const double w = m[6] * x + m[7] * y + m[8];
  if (!(m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0)) {
    sx = w != 0.0 ? sx / w : -1e9;
    sy = w != 0.0 ? sy / w : -1e9;
  }
  if (!(::fabs(sx) < 16777216.0 && ::fabs(sy) < 16777216.0)) {
    dst[0] = dst[1] = dst[2] = static_cast<std::uint8_t>(border);
    return;
  }
  if (img.nv12) {
    float rgb[3];
    nv12_warp_sample(planes_of(img), sx, sy, static_cast<float>(border), rgb);
    for (int c = 0; c < 3; ++c) dst[c] = to_level(rgb[c] + 0.5f);
    return;
  }
  const double fsx = ::floor(sx), fsy = ::floor(sy);
  const int x0 = static_cast<int>(fsx), y0 = static_cast<int>(fsy);
  const float fx = static_cast<float>(sx - fsx), fy = static_cast<float>(sy - fsy);
  const float bv = static_cast<float>(border);
  for (int c = 0; c < 3; ++c) {
    float p[2][2];
    for (int j = 0; j < 2; ++j) {
      for (int i = 0; i < 2; ++i) {
        const int xx = x0 + i, yy = y0 + j;
        const bool inside = xx >= 0 && yy >= 0 && xx < img.width && yy < img.height;
        p[j][i] = inside ? img.data[static_cast<long long>(yy) * img.row_stride + 3 * xx + c] : bv;
      }
    }
    const float top = p[0][0] + fx * (p[0][1] - p[0][0]);
    const float bottom = p[1][0] + fx * (p[1][1] - p[1][0]);
    dst[c] = to_level(top + fy * (bottom - top) + 0.5f);
  }
}

}  // namespace kuzet::vision::cuda
