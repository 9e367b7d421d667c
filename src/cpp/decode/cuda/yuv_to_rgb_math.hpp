// YUV -> RGB arithmetic shared by the CUDA kernels and their host reference. It is the integer maths of
// swscale's unscaled 4:2:0 -> RGB24 path (x86 SIMD: 16-bit samples scaled by 8, pmulhw products, each
// output saturated once), so GPU frames match the CPU path's swscale output exactly on 8-bit 4:2:0 input
// of even height (the case swscale serves with that path). Chroma is nearest (one sample per 2x2 block).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define KUZET_HD __host__ __device__ __forceinline__
#else
#define KUZET_HD inline
#endif

namespace kuzet::decode {

// swscale's 16-bit coefficients (SwsContext yCoeff, yOffset, vrCoeff, ubCoeff, ugCoeff, vgCoeff).
struct YuvCoeffs {
  int32_t y_coeff;
  int32_t y_offset;
  int32_t vr;
  int32_t ub;
  int32_t ug;
  int32_t vg;
};

KUZET_HD int32_t mul_high16(int32_t a, int32_t b) { return (a * b) >> 16; }  // pmulhw (arithmetic shift)

KUZET_HD uint8_t clip_u8(int32_t v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// One pixel from 8-bit Y, U, V.
KUZET_HD void yuv_to_rgb(const YuvCoeffs& c, int32_t y, int32_t u, int32_t v, uint8_t& r, uint8_t& g, uint8_t& b) {
  const int32_t luma = mul_high16(y * 8 - c.y_offset, c.y_coeff);
  const int32_t cu = u * 8 - 1024;
  const int32_t cv = v * 8 - 1024;
  r = clip_u8(luma + mul_high16(cv, c.vr));
  g = clip_u8(luma + mul_high16(cu, c.ug) + mul_high16(cv, c.vg));
  b = clip_u8(luma + mul_high16(cu, c.ub));
}

// A 16-bit sample (P010/P016: value in the high bits) reduced to 8 bits with rounding.
KUZET_HD int32_t to_8bit(uint16_t s) {
  const int32_t v = (static_cast<int32_t>(s) + 128) >> 8;
  return v > 255 ? 255 : v;
}
KUZET_HD int32_t to_8bit(uint8_t s) { return s; }

}  // namespace kuzet::decode

namespace kuzet::decode {

// Pixel (x, row) of a semi-planar 4:2:0 frame (NV12 with T = uint8_t, P010/P016 with T = uint16_t):
// a luma plane and an interleaved U/V plane, each with its own pitch in bytes.
template <typename T>
KUZET_HD void semi_planar_pixel_to_rgb(const uint8_t* y_plane, int y_pitch, const uint8_t* uv_plane, int uv_pitch,
                                       int x, int row, const YuvCoeffs& c, uint8_t& r, uint8_t& g, uint8_t& b) {
  const T* luma = reinterpret_cast<const T*>(y_plane + static_cast<int64_t>(row) * y_pitch);
  const T* chroma = reinterpret_cast<const T*>(uv_plane + static_cast<int64_t>(row / 2) * uv_pitch);
  const int cx = (x / 2) * 2;
  yuv_to_rgb(c, to_8bit(luma[x]), to_8bit(chroma[cx]), to_8bit(chroma[cx + 1]), r, g, b);
}

}  // namespace kuzet::decode
