#include "preprocess/warp.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "preprocess/parallel.hpp"

namespace kuzet::vision {

namespace {

constexpr int kBits = 11;  // fixed-point weight precision of the fast path
constexpr int kOne = 1 << kBits;
constexpr double kFar = 1 << 24;  // positions beyond this are outside any image (and safe to round)

// Calls pixel(dst, sx, sy) for every pixel of output row y (dst: its 3 bytes) with its source position under
// m, projective when m's last row is not (0, 0, 1); a point with no finite image maps to (-kFar, -kFar).
template <class Pixel>
void map_row(const Matrix3& m, int y, int out_w, std::uint8_t* out, Pixel&& pixel) {
  const bool affine = m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0;
  std::uint8_t* dst = out + static_cast<std::size_t>(y) * static_cast<std::size_t>(out_w) * 3;
  const double row_x = m[1] * y + m[2], row_y = m[4] * y + m[5], row_w = m[7] * y + m[8];
  for (int x = 0; x < out_w; ++x, dst += 3) {
    double sx = row_x + m[0] * x;
    double sy = row_y + m[3] * x;
    if (!affine) {
      const double w = row_w + m[6] * x;
      sx = w != 0.0 ? sx / w : -kFar;
      sy = w != 0.0 ? sy / w : -kFar;
    }
    pixel(dst, sx, sy);
  }
}

}  // namespace

namespace {

// Bilinear sample at (sx, sy) with taps outside the image reading `border` (the slow, general path).
void sample_with_border(const ImageView& img, double sx, double sy, std::uint8_t border, std::uint8_t* dst) {
  if (!(std::abs(sx) < kFar && std::abs(sy) < kFar)) {  // also catches NaN
    dst[0] = dst[1] = dst[2] = border;
    return;
  }
  const double fsx = std::floor(sx), fsy = std::floor(sy);
  const long x0 = static_cast<long>(fsx), y0 = static_cast<long>(fsy);
  if (x0 >= img.width || y0 >= img.height || x0 < -1 || y0 < -1) {
    dst[0] = dst[1] = dst[2] = border;
    return;
  }
  const float fx = static_cast<float>(sx - fsx), fy = static_cast<float>(sy - fsy);
  const bool in_x0 = x0 >= 0, in_x1 = x0 + 1 < img.width;
  const bool in_y0 = y0 >= 0, in_y1 = y0 + 1 < img.height;
  const std::uint8_t* r0 = in_y0 ? img.row(static_cast<int>(y0)) : nullptr;
  const std::uint8_t* r1 = in_y1 ? img.row(static_cast<int>(y0 + 1)) : nullptr;
  const long c0 = 3 * x0, c1 = 3 * (x0 + 1);
  const float bv = border;
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  for (int c = 0; c < 3; ++c) {
    const float p00 = (in_y0 && in_x0) ? r0[c0 + c] : bv;
    const float p01 = (in_y0 && in_x1) ? r0[c1 + c] : bv;
    const float p10 = (in_y1 && in_x0) ? r1[c0 + c] : bv;
    const float p11 = (in_y1 && in_x1) ? r1[c1 + c] : bv;
    const float v = w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11;
    dst[c] = static_cast<std::uint8_t>(std::clamp(v + 0.5f, 0.f, 255.f));
  }
}

}  // namespace

namespace {

// NV12 source: each output pixel samples luma bilinearly and chroma at half resolution, converted to RGB on
// the spot (yuv_pixel.hpp, shared with the CUDA kernel).
void warp_rows_nv12(const ImageView& img, const Matrix3& m, int out_w, std::uint8_t border, std::uint8_t* out,
                    int row_begin, int row_end) {
  const Nv12Planes planes = img.nv12();
  const float bv = border;
  for (int y = row_begin; y < row_end; ++y) {
    map_row(m, y, out_w, out, [&](std::uint8_t* dst, double sx, double sy) {
      if (!(std::abs(sx) < kFar && std::abs(sy) < kFar)) {  // also catches NaN
        dst[0] = dst[1] = dst[2] = border;
        return;
      }
      float rgb[3];
      nv12_warp_sample(planes, sx, sy, bv, rgb);
      for (int c = 0; c < 3; ++c) dst[c] = static_cast<std::uint8_t>(std::clamp(rgb[c] + 0.5f, 0.f, 255.f));
    });
  }
}

}  // namespace

void warp_rows(const ImageView& img, const Matrix3& m, int out_h, int out_w, std::uint8_t border,
               std::uint8_t* out, int row_begin, int row_end) {
  (void)out_h;
  if (img.format == PixelFormat::Nv12) {
    warp_rows_nv12(img, m, out_w, border, out, row_begin, row_end);
    return;
  }
  const double max_x = img.width - 1, max_y = img.height - 1;
  for (int y = row_begin; y < row_end; ++y) {
    map_row(m, y, out_w, out, [&](std::uint8_t* dst, double sx, double sy) {
      if (sx >= 0.0 && sy >= 0.0 && sx < max_x && sy < max_y) {
        // Fast path: all four taps inside the image; 11-bit fixed-point weights (error < 0.2 level).
        const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
        const int wx = static_cast<int>((sx - x0) * kOne + 0.5), wy = static_cast<int>((sy - y0) * kOne + 0.5);
        const std::uint8_t* p = img.row(y0) + 3 * x0;
        const std::uint8_t* q = p + img.row_stride;
        for (int c = 0; c < 3; ++c) {
          const int top = p[c] * (kOne - wx) + p[c + 3] * wx;
          const int bottom = q[c] * (kOne - wx) + q[c + 3] * wx;
          dst[c] = static_cast<std::uint8_t>((top * (kOne - wy) + bottom * wy + (1 << (2 * kBits - 1))) >> (2 * kBits));
        }
      } else {
        sample_with_border(img, sx, sy, border, dst);
      }
    });
  }
}

void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                std::uint8_t* out, unsigned threads) {
  const std::size_t n = matrices.size();
  if (n == 0) return;
  const std::size_t per_crop = static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  const std::size_t bands = std::max<std::size_t>(1, (threads_for(threads) + n - 1) / n);
  parallel_for(n * bands, [&](std::size_t task) {
    const std::size_t k = task / bands, band = task % bands;
    const int begin = static_cast<int>(band * static_cast<std::size_t>(out_h) / bands);
    const int end = static_cast<int>((band + 1) * static_cast<std::size_t>(out_h) / bands);
    warp_rows(images[static_cast<std::size_t>(image_index[k])], matrices[k], out_h, out_w, border,
              out + k * per_crop, begin, end);
  }, threads);
}

}  // namespace kuzet::vision
