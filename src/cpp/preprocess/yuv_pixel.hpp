// Per-pixel NV12 -> RGB maths shared by the CPU pre-processing / warps and their CUDA twins
// (__host__ __device__ under nvcc). The matrix is the decoder's own (swscale's coefficients for the stream's
// colour space and range, see decode/yuv_coeffs.*) evaluated in float instead of swscale's truncating 16-bit
// fixed point, so an NV12 frame converts to what the decoder's RGB frame holds to within its rounding.
// Chroma is sampled bilinearly at half resolution with centred siting (a chroma sample sits at the centre of
// its 2x2 luma block): at luma position x the chroma position is (x + 0.5) / 2 - 0.5.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define KUZET_PIXEL_HD __host__ __device__ __forceinline__
#else
#define KUZET_PIXEL_HD inline
#endif

namespace kuzet::vision {

// R = y_scale * (Y - y_offset) + r_v * (V - 128); G = ... + g_u * (U - 128) + g_v * (V - 128);
// B = ... + b_u * (U - 128). Results are clamped to 0..255.
struct YuvToRgb {
  float y_scale = 1.f, y_offset = 0.f;
  float r_v = 0.f, g_u = 0.f, g_v = 0.f, b_u = 0.f;
};

// The two planes of one NV12 frame: width x height luma bytes, then height/2 rows of width/2 U,V pairs.
// Width and height are even.
struct Nv12Planes {
  const std::uint8_t* y = nullptr;
  const std::uint8_t* uv = nullptr;
  long long y_stride = 0, uv_stride = 0;  // bytes between rows
  int width = 0, height = 0;
  YuvToRgb m;
};

KUZET_PIXEL_HD float clamp_level(float v) { return v < 0.f ? 0.f : (v > 255.f ? 255.f : v); }

// One pixel from (interpolated) Y, U, V levels.
KUZET_PIXEL_HD void yuv_to_rgb(const YuvToRgb& m, float y, float u, float v, float rgb[3]) {
  const float luma = m.y_scale * (y - m.y_offset);
  const float cu = u - 128.f, cv = v - 128.f;
  rgb[0] = clamp_level(luma + m.r_v * cv);
  rgb[1] = clamp_level(luma + m.g_u * cu + m.g_v * cv);
  rgb[2] = clamp_level(luma + m.b_u * cu);
}

KUZET_PIXEL_HD float lerp_level(float a, float b, float w) { return a + w * (b - a); }

// Bilinear resize sample: luma from rows y0/y1 and columns x0/x1 (weights ay, ax of the second tap), chroma
// from chroma rows cy0/cy1 and chroma columns cx0/cx1 (weights acy, acx). All taps are inside the planes.
KUZET_PIXEL_HD void nv12_resize_sample(const Nv12Planes& p, int x0, int x1, float ax, int y0, int y1, float ay,
                                       int cx0, int cx1, float acx, int cy0, int cy1, float acy, float rgb[3]) {
  const std::uint8_t* l0 = p.y + y0 * p.y_stride;
  const std::uint8_t* l1 = p.y + y1 * p.y_stride;
  const float luma = lerp_level(lerp_level(l0[x0], l0[x1], ax), lerp_level(l1[x0], l1[x1], ax), ay);
  const std::uint8_t* c0 = p.uv + cy0 * p.uv_stride;
  const std::uint8_t* c1 = p.uv + cy1 * p.uv_stride;
  const float u = lerp_level(lerp_level(c0[2 * cx0], c0[2 * cx1], acx), lerp_level(c1[2 * cx0], c1[2 * cx1], acx), acy);
  const float v = lerp_level(lerp_level(c0[2 * cx0 + 1], c0[2 * cx1 + 1], acx),
                             lerp_level(c1[2 * cx0 + 1], c1[2 * cx1 + 1], acx), acy);
  yuv_to_rgb(p.m, luma, u, v, rgb);
}

// One tap pair of a clamped (edge-replicating) bilinear lookup at position f on an axis of n samples.
KUZET_PIXEL_HD void edge_taps(double f, int n, int& i0, int& i1, float& w1) {
  double fl = f < 0.0 ? 0.0 : (f > n - 1 ? n - 1 : f);
  i0 = static_cast<int>(fl);
  if (i0 > n - 1) i0 = n - 1;
  i1 = i0 + 1 < n ? i0 + 1 : n - 1;
  w1 = static_cast<float>(fl - i0);
}

// Warp sample at source luma position (sx, sy), a finite position within 2^24 of the frame: luma taps outside
// the frame read the RGB grey `border` (as the RGB warp does); chroma is clamped to the plane's edge. The
// inside taps' luma is averaged and converted once with the chroma there, then blended with the border.
KUZET_PIXEL_HD void nv12_warp_sample(const Nv12Planes& p, double sx, double sy, float border, float rgb[3]) {
  const double fsx = ::floor(sx), fsy = ::floor(sy);
  const long long x0 = static_cast<long long>(fsx), y0 = static_cast<long long>(fsy);
  const float fx = static_cast<float>(sx - fsx), fy = static_cast<float>(sy - fsy);
  float inside_weight = 0.f, luma = 0.f;
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 2; ++i) {
      const long long xx = x0 + i, yy = y0 + j;
      if (xx < 0 || yy < 0 || xx >= p.width || yy >= p.height) continue;
      const float w = (i ? fx : 1.f - fx) * (j ? fy : 1.f - fy);
      inside_weight += w;
      luma += w * p.y[yy * p.y_stride + xx];
    }
  }
  if (inside_weight <= 0.f) {
    rgb[0] = rgb[1] = rgb[2] = border;
    return;
  }
  int cx0, cx1, cy0, cy1;
  float acx, acy;
  edge_taps((sx + 0.5) * 0.5 - 0.5, p.width / 2, cx0, cx1, acx);
  edge_taps((sy + 0.5) * 0.5 - 0.5, p.height / 2, cy0, cy1, acy);
  const std::uint8_t* c0 = p.uv + cy0 * p.uv_stride;
  const std::uint8_t* c1 = p.uv + cy1 * p.uv_stride;
  const float u = lerp_level(lerp_level(c0[2 * cx0], c0[2 * cx1], acx), lerp_level(c1[2 * cx0], c1[2 * cx1], acx), acy);
  const float v = lerp_level(lerp_level(c0[2 * cx0 + 1], c0[2 * cx1 + 1], acx),
                             lerp_level(c1[2 * cx0 + 1], c1[2 * cx1 + 1], acx), acy);
  yuv_to_rgb(p.m, luma / inside_weight, u, v, rgb);
  const float outside = 1.f - inside_weight;
  for (int c = 0; c < 3; ++c) rgb[c] = inside_weight * rgb[c] + outside * border;
}

}  // namespace kuzet::vision
