// Per-output-pixel work of the CUDA pre-processing and warp kernels (vision_cuda.cu), as __host__ __device__
// functions: the kernels only find their pixel and call these, and the host twin (vision_on_host.cpp) calls
// the very same code for every pixel, so the kernels' arithmetic is tested on machines without a GPU.
// Every function reads sources through DeviceImage (device addresses in the kernels, host ones in the twin).
// They repeat the CPU version's operations in its order (preprocess.cpp, warp.cpp), so kernel, twin and CPU
// give the same floats and bytes, bit for bit; on the GPU that needs each product and sum rounded on its
// own, so vision_cuda.cu is compiled with --fmad=false (CMakeLists.txt).
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

// One output column's (or row's) bilinear taps: source indices i0 and i1, and the weight of i1.
struct Tap {
  int i0, i1;
  float w1;
};

// Where one image lands in the model input (from plan_resize), and where its taps lie in the tap table
// (plan_all): new_w column taps and new_h row taps of the luma (or RGB) plane, and for NV12 those of the
// half-size chroma plane.
struct PlanParams {
  int new_w, new_h, pad_x, pad_y;
  long long x_taps, y_taps, chroma_x_taps, chroma_y_taps;
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

// Tap d of a bilinear resize from `in` to `out` samples with half-pixel centres (like cv2.INTER_LINEAR):
// output position d reads source position (d + 0.5) * in / out - 0.5, edge pixels replicated. Positions in
// double, the weight rounded to float once, exactly as the CPU version's make_taps (preprocess.cpp; a float
// position would be off by up to 1e-4 px on a 1280-wide source). Computed once per column and row on the
// host (plan_all), so the kernel does no double arithmetic per pixel (slow on consumer GPUs).
KUZET_PIXEL_HD Tap resize_tap(int d, int in, int out) {
  const double ratio = static_cast<double>(in) / out;
  const double f = (d + 0.5) * ratio - 0.5;
  int s = static_cast<int>(::floor(f));
  double a = f - s;
  if (s < 0) {
    s = 0;
    a = 0.0;
  }
  if (s >= in - 1) {
    s = in - 1;
    a = 0.0;
  }
  return {s, s + 1 < in - 1 ? s + 1 : in - 1, static_cast<float>(a)};
}

// RGB source: each channel resampled horizontally on rows y0 and y1, then blended vertically and normalised in
// one step with the weights folded into the scale, in the CPU version's order of operations (preprocess.cpp:
// out = (1 - ay) * mul * top + ay * mul * bottom + add), so both round alike. Output channel c of `out`.
KUZET_PIXEL_HD void rgb_resize_normalise(const DeviceImage& img, const Tap& tx, const Tap& ty, const Normalise& norm,
                                         float out[3]) {
  const int x0 = tx.i0, x1 = tx.i1, y0 = ty.i0, y1 = ty.i1;
  const float ax = tx.w1, ay = ty.w1;
  const std::uint8_t* r0 = img.data + static_cast<long long>(y0) * img.row_stride;
  const std::uint8_t* r1 = img.data + static_cast<long long>(y1) * img.row_stride;
  for (int c = 0; c < 3; ++c) {
    const int s = norm.bgr ? 2 - c : c;  // the source channel of output channel c
    const float top = r0[3 * x0 + s] + ax * (r0[3 * x1 + s] - r0[3 * x0 + s]);
    const float bottom = r1[3 * x0 + s] + ax * (r1[3 * x1 + s] - r1[3 * x0 + s]);
    const float wa = (1.f - ay) * norm.mul[c], wb = ay * norm.mul[c];
    out[c] = wa * top + wb * bottom + norm.add[c];
  }
}

// Output pixel (x, y) of one image's model input: `out` is that image's 3 planes of out_h*out_w floats,
// `taps` the tap table of the batch.
KUZET_PIXEL_HD void preprocess_pixel(const DeviceImage& img, const PlanParams& p, const Tap* taps,
                                     const Normalise& norm, int out_h, int out_w, int x, int y, float* out) {
  const std::size_t plane = static_cast<std::size_t>(out_h) * out_w;
  float* dst = out + static_cast<std::size_t>(y) * out_w + x;
  const int dx = x - p.pad_x, dy = y - p.pad_y;
  if (dx < 0 || dy < 0 || dx >= p.new_w || dy >= p.new_h) {
    dst[0] = dst[plane] = dst[2 * plane] = norm.pad;
    return;
  }
  const Tap tx = taps[p.x_taps + dx], ty = taps[p.y_taps + dy];
  float v[3];
  if (!img.nv12) {
    rgb_resize_normalise(img, tx, ty, norm, v);
  } else {
    // Chroma: the same mapping over the half-size plane (centred siting), as the CPU version does.
    const Tap cx = taps[p.chroma_x_taps + dx], cy = taps[p.chroma_y_taps + dy];
    float rgb[3];
    nv12_resize_sample(planes_of(img), tx.i0, tx.i1, tx.w1, ty.i0, ty.i1, ty.w1, cx.i0, cx.i1, cx.w1, cy.i0, cy.i1,
                       cy.w1, rgb);
    for (int c = 0; c < 3; ++c) v[c] = rgb[norm.bgr ? 2 - c : c] * norm.mul[c] + norm.add[c];
  }
  dst[0] = v[0];
  dst[plane] = v[1];
  dst[2 * plane] = v[2];
}

KUZET_PIXEL_HD std::uint8_t to_level(float v) {
  return static_cast<std::uint8_t>(::fminf(::fmaxf(v, 0.f), 255.f));
}

// RGB warp sample at a finite source position (sx, sy) within 2^24 of the frame, computed as the CPU version
// does (warp.cpp), so both give the same bytes: with all four taps inside the image, 11-bit fixed-point
// weights (error < 0.2 level); otherwise float weights with the taps outside reading `border`.
KUZET_PIXEL_HD void rgb_warp_sample(const DeviceImage& img, double sx, double sy, int border, std::uint8_t* dst) {
  constexpr int kBits = 11;
  constexpr int kOne = 1 << kBits;
  if (sx >= 0.0 && sy >= 0.0 && sx < img.width - 1 && sy < img.height - 1) {
    const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
    const int wx = static_cast<int>((sx - x0) * kOne + 0.5), wy = static_cast<int>((sy - y0) * kOne + 0.5);
    const std::uint8_t* p = img.data + static_cast<long long>(y0) * img.row_stride + 3 * x0;
    const std::uint8_t* q = p + img.row_stride;
    for (int c = 0; c < 3; ++c) {
      const int top = p[c] * (kOne - wx) + p[c + 3] * wx;
      const int bottom = q[c] * (kOne - wx) + q[c + 3] * wx;
      dst[c] = static_cast<std::uint8_t>((top * (kOne - wy) + bottom * wy + (1 << (2 * kBits - 1))) >> (2 * kBits));
    }
    return;
  }
  const double fsx = ::floor(sx), fsy = ::floor(sy);
  const long long x0 = static_cast<long long>(fsx), y0 = static_cast<long long>(fsy);
  if (x0 >= img.width || y0 >= img.height || x0 < -1 || y0 < -1) {
    dst[0] = dst[1] = dst[2] = static_cast<std::uint8_t>(border);
    return;
  }
  const float fx = static_cast<float>(sx - fsx), fy = static_cast<float>(sy - fsy);
  const bool in_x0 = x0 >= 0, in_x1 = x0 + 1 < img.width;
  const bool in_y0 = y0 >= 0, in_y1 = y0 + 1 < img.height;
  const std::uint8_t* r0 = in_y0 ? img.data + y0 * img.row_stride : nullptr;
  const std::uint8_t* r1 = in_y1 ? img.data + (y0 + 1) * img.row_stride : nullptr;
  const long long c0 = 3 * x0, c1 = 3 * (x0 + 1);
  const float bv = static_cast<float>(border);
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  for (int c = 0; c < 3; ++c) {
    const float p00 = (in_y0 && in_x0) ? r0[c0 + c] : bv;
    const float p01 = (in_y0 && in_x1) ? r0[c1 + c] : bv;
    const float p10 = (in_y1 && in_x0) ? r1[c0 + c] : bv;
    const float p11 = (in_y1 && in_x1) ? r1[c1 + c] : bv;
    dst[c] = to_level(w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11 + 0.5f);
  }
}

// Output pixel (x, y) of one crop: `dst` is its 3 bytes, `m` the crop's 3x3 matrix (output -> source,
// row-major). Taps outside the image read `border`; a point with no finite source (w == 0, NaN, or beyond
// 2^24) is `border`.
KUZET_PIXEL_HD void warp_pixel(const DeviceImage& img, const double* m, int x, int y, int border,
                               std::uint8_t* dst) {
  // Summed in the CPU version's order (warp.cpp map_row: the row's part first), so both round alike.
  double sx = (m[1] * y + m[2]) + m[0] * x;
  double sy = (m[4] * y + m[5]) + m[3] * x;
  const double w = (m[7] * y + m[8]) + m[6] * x;
  if (!(m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0)) {
    sx = w != 0.0 ? sx / w : -1e9;
    sy = w != 0.0 ? sy / w : -1e9;
  }
  if (!(::fabs(sx) < 16777216.0 && ::fabs(sy) < 16777216.0)) {  // also catches NaN
    dst[0] = dst[1] = dst[2] = static_cast<std::uint8_t>(border);
    return;
  }
  if (img.nv12) {
    float rgb[3];
    nv12_warp_sample(planes_of(img), sx, sy, static_cast<float>(border), rgb);
    for (int c = 0; c < 3; ++c) dst[c] = to_level(rgb[c] + 0.5f);
    return;
  }
  rgb_warp_sample(img, sx, sy, border, dst);
}

}  // namespace kuzet::vision::cuda
