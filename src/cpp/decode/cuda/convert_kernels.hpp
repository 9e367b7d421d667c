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

// The same conversion on the host, pixel for pixel (`src` in host memory): the reference the tests
// compare with swscale on machines without a GPU.
void convert_to_rgb_on_host(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst);

// (H, W, 3) RGB or BGR, or (3, H, W) planar RGB.
void convert_to_rgb(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst, void* stream);

// 8-bit 4:2:0: Y then U then V planes (yuv420p) or Y then interleaved UV (nv12), chroma (W+1)/2 x (H+1)/2.
void convert_to_yuv420(const SemiPlanarFrame& src, bool interleaved_uv, uint8_t* dst, void* stream);

// The frame's own samples, both planes tightly packed (bit-exact 'native' layout).
void copy_semi_planar(const SemiPlanarFrame& src, uint8_t* dst, void* stream);

}  // namespace kuzet::decode::cuda
