// kuzet's own CPU YUV -> RGB conversion of 8-bit 4:2:0 frames (yuv420p/yuvj420p planes, or NV12) into
// packed RGB24 / BGR24 or three R, G, B planes. It uses exactly the integer arithmetic of swscale's x86
// unscaled 4:2:0 -> RGB24 path (decode/cuda/yuv_to_rgb_math.hpp: samples scaled by 8, pmulhw products,
// nearest chroma), so its output is byte-identical to swscale's wherever swscale takes that path (8-bit
// yuv420p of even height). Vector code is chosen at run time (AVX-512BW, AVX2, else portable scalar code
// of the same maths); nothing is compiled with global ISA flags, so the module still runs on any x86-64.
#pragma once
#include <cstdint>

#include "common/simd.hpp"
#include "decode/cuda/yuv_to_rgb_math.hpp"

namespace kuzet::decode {

struct Yuv420Frame {
  const uint8_t* y = nullptr;
  const uint8_t* u = nullptr;  // NV12: the interleaved U/V plane
  const uint8_t* v = nullptr;  // unused for NV12
  int y_stride = 0;            // bytes
  int u_stride = 0;
  int v_stride = 0;
  int width = 0;
  int height = 0;
  bool nv12 = false;
};

enum class RgbPacking { Rgb, Bgr, Planar };  // (H, W, 3) RGB, (H, W, 3) BGR, (3, H, W) RGB planes

// Converts rows [row_begin, row_end) of `src` into `dst`, a tightly packed output of src.width x
// src.height pixels (Planar: the R plane, then G, then B). Reads only the frame's own samples.
void yuv420_to_rgb(const Yuv420Frame& src, const YuvCoeffs& coeffs, RgbPacking packing, uint8_t* dst,
                   int row_begin, int row_end, SimdLevel level = SimdLevel::Auto);  // common/simd.hpp

}  // namespace kuzet::decode
