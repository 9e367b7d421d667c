// A read-only view of one HxWx3 uint8 image (RGB) in memory owned elsewhere (a numpy array).
// Rows may be strided (a crop of a larger frame); the 3 channels of a pixel are contiguous.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kuzet::vision {

struct ImageView {
  const std::uint8_t* data = nullptr;
  int height = 0;
  int width = 0;
  std::ptrdiff_t row_stride = 0;  // bytes between rows

  const std::uint8_t* row(int y) const { return data + static_cast<std::ptrdiff_t>(y) * row_stride; }
};

}  // namespace kuzet::vision
