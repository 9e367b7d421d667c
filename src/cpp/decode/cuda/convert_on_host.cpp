// Host twins of the to_rgb and to_yuv420 kernels (convert_kernels.cu): same per-pixel code, compiled in
// every build.
#include "decode/cuda/convert_kernels.hpp"

namespace kuzet::decode::cuda {

void convert_to_rgb_on_host(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst) {
  const int64_t plane = static_cast<int64_t>(src.width) * src.height;
  for (int row = 0; row < src.height; ++row) {
    for (int x = 0; x < src.width; ++x) {
      uint8_t r, g, b;
      if (src.sixteen_bit) {
        semi_planar_pixel_to_rgb<uint16_t>(src.y, src.y_pitch, src.uv, src.uv_pitch, x, row, coeffs, r, g, b);
      } else {
        semi_planar_pixel_to_rgb<uint8_t>(src.y, src.y_pitch, src.uv, src.uv_pitch, x, row, coeffs, r, g, b);
      }
      store_rgb(out, dst, static_cast<int64_t>(row) * src.width + x, plane, r, g, b);
    }
  }
}

void convert_to_yuv420_on_host(const SemiPlanarFrame& src, bool interleaved_uv, uint8_t* dst) {
  for (int row = 0; row < src.height; ++row) {
    for (int x = 0; x < src.width; ++x) {
      if (src.sixteen_bit) {
        semi_planar_sample_to_yuv420<uint16_t>(src, interleaved_uv, x, row, dst);
      } else {
        semi_planar_sample_to_yuv420<uint8_t>(src, interleaved_uv, x, row, dst);
      }
    }
  }
}

}  // namespace kuzet::decode::cuda
