// A read-only view of one image in memory owned elsewhere (a numpy array, a device frame): either HxWx3 uint8
// RGB (rows may be strided, a pixel's 3 bytes contiguous) or NV12 (a luma plane and an interleaved U/V plane
// at half resolution, even width and height, converted with `yuv`).
#pragma once
#include <cstddef>
#include <cstdint>

#include "preprocess/yuv_pixel.hpp"

namespace kuzet::vision {

enum class PixelFormat { Rgb, Nv12 };

struct ImageView {
  const std::uint8_t* data = nullptr;  // RGB pixels, or the NV12 luma plane
  int height = 0;
  int width = 0;
  std::ptrdiff_t row_stride = 0;  // bytes between rows (of the luma plane for NV12)
  PixelFormat format = PixelFormat::Rgb;
  const std::uint8_t* uv = nullptr;  // NV12 only: the U/V plane, height/2 rows of width bytes
  std::ptrdiff_t uv_stride = 0;
  YuvToRgb yuv;  // NV12 only

  const std::uint8_t* row(int y) const { return data + static_cast<std::ptrdiff_t>(y) * row_stride; }

  Nv12Planes nv12() const { return {data, uv, row_stride, uv_stride, width, height, yuv}; }
};

}  // namespace kuzet::vision
