// Colour conversion of NVDEC frames on the GPU: semi-planar 4:2:0 (NV12, or P010/P016 reduced to 8 bits)
// into tightly packed 8-bit outputs in device memory. CUDA-free interface (streams are void*, a
// cudaStream_t); each launch throws kuzet::Error if the kernel cannot be queued.
#pragma once
#include <cstdint>

#include "decode/cuda/yuv_to_rgb_math.hpp"

namespace kuzet::decode::cuda {

struct SemiPlanarFrame {
  const uint8_t* y = nullptr;   // device pointer to the luma plane
  const uint8_t* uv = nullptr;  // device pointer to the interleaved chroma plane
  int y_pitch = 0;              // bytes
  int uv_pitch = 0;             // bytes
  int width = 0;
  int height = 0;
  bool sixteen_bit = false;  // P010/P016 samples (uint16, value in the high bits)
};

enum class RgbOutput { Rgb, Bgr, RgbPlanar };

// Stores pixel `pixel` (row * width + x) of a frame of `plane` pixels in the chosen RGB layout.
KUZET_HD void store_rgb(RgbOutput out, uint8_t* dst, int64_t pixel, int64_t plane, uint8_t r, uint8_t g, uint8_t b) {
  if (out == RgbOutput::RgbPlanar) {
    dst[pixel] = r;
    dst[plane + pixel] = g;
    dst[2 * plane + pixel] = b;
    return;
  }
  uint8_t* p = dst + pixel * 3;
  p[0] = out == RgbOutput::Rgb ? r : b;
  p[1] = g;
  p[2] = out == RgbOutput::Rgb ? b : r;
}

// Luma sample (x, row) of a semi-planar frame into an 8-bit 4:2:0 frame (see convert_to_yuv420); the sample
// on even (x, row) also writes its 2x2 block's chroma. T = uint8_t for NV12, uint16_t for P010/P016.
template <typename T>
KUZET_HD void semi_planar_sample_to_yuv420(const SemiPlanarFrame& src, bool interleaved_uv, int x, int row,
                                           uint8_t* dst) {
  const T* luma = reinterpret_cast<const T*>(src.y + static_cast<int64_t>(row) * src.y_pitch);
  dst[static_cast<int64_t>(row) * src.width + x] = static_cast<uint8_t>(to_8bit(luma[x]));
  if ((x & 1) || (row & 1)) return;
  const int cw = (src.width + 1) / 2;
  const int ch = (src.height + 1) / 2;
  const int cx = x / 2;
  const int cy = row / 2;
  const T* chroma = reinterpret_cast<const T*>(src.uv + static_cast<int64_t>(cy) * src.uv_pitch);
  uint8_t* chroma_out = dst + static_cast<int64_t>(src.width) * src.height;
  const auto u = static_cast<uint8_t>(to_8bit(chroma[2 * cx]));
  const auto v = static_cast<uint8_t>(to_8bit(chroma[2 * cx + 1]));
  if (interleaved_uv) {
    const int64_t at = (static_cast<int64_t>(cy) * cw + cx) * 2;
    chroma_out[at] = u;
    chroma_out[at + 1] = v;
  } else {
    const int64_t at = static_cast<int64_t>(cy) * cw + cx;
    chroma_out[at] = u;
    chroma_out[static_cast<int64_t>(cw) * ch + at] = v;
  }
}

// The same conversion on the host, pixel for pixel (`src` in host memory): the reference the tests
// compare with swscale on machines without a GPU.
void convert_to_rgb_on_host(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst);

// (H, W, 3) RGB or BGR, or (3, H, W) planar RGB.
void convert_to_rgb(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst, void* stream);

// The same repacking on the host, sample for sample (`src` in host memory): the reference the tests compare
// with the CPU decoder's yuv420p / nv12 frames on machines without a GPU.
void convert_to_yuv420_on_host(const SemiPlanarFrame& src, bool interleaved_uv, uint8_t* dst);

// 8-bit 4:2:0: Y then U then V planes (yuv420p) or Y then interleaved UV (nv12), chroma (W+1)/2 x (H+1)/2.
void convert_to_yuv420(const SemiPlanarFrame& src, bool interleaved_uv, uint8_t* dst, void* stream);

// The frame's own samples, both planes tightly packed (bit-exact 'native' layout).
void copy_semi_planar(const SemiPlanarFrame& src, uint8_t* dst, void* stream);

}  // namespace kuzet::decode::cuda
