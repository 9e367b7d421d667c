#include "preprocess/warp.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

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

namespace {

// The fast path's bilinear sample (all four taps inside the image) from the top-left tap p of the source row
// stride apart: 11-bit fixed-point weights, exact integer arithmetic (products < 2^31).
inline void sample_inside(const std::uint8_t* p, std::ptrdiff_t stride, int wx, int wy, std::uint8_t* dst) {
  const std::uint8_t* q = p + stride;
  for (int c = 0; c < 3; ++c) {
    const int top = p[c] * (kOne - wx) + p[c + 3] * wx;
    const int bottom = q[c] * (kOne - wx) + q[c + 3] * wx;
    dst[c] = static_cast<std::uint8_t>((top * (kOne - wy) + bottom * wy + (1 << (2 * kBits - 1))) >> (2 * kBits));
  }
}

// One RGB warp sample at source position (sx, sy): the fast path (all four taps inside the image, 11-bit
// fixed-point weights, error < 0.2 level), else the general one with taps outside reading `border`.
inline void sample_rgb(const ImageView& img, double sx, double sy, std::uint8_t border, std::uint8_t* dst) {
  if (sx >= 0.0 && sy >= 0.0 && sx < img.width - 1 && sy < img.height - 1) {
    const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
    const int wx = static_cast<int>((sx - x0) * kOne + 0.5), wy = static_cast<int>((sy - y0) * kOne + 0.5);
    sample_inside(img.row(y0) + 3 * x0, img.row_stride, wx, wy, dst);
  } else {
    sample_with_border(img, sx, sy, border, dst);
  }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KUZET_WARP_AVX2 1
// The fast path for four output pixels at once with AVX2: the positions in four double lanes, the samples two
// pixels per register with the three channels in 32-bit lanes. Every operation is the scalar one (IEEE double
// adds and multiplies in the same order, no fused multiply-add; exact integer products), so the bytes are the
// scalar path's (and the CUDA kernel's). Each row reads only its six tap bytes: 4 bytes at 0 and at 2, the
// latter shifted down a lane, never past the image.

// Taps of two pixels (a, b: their top-left tap in one source row): lanes 0..2 row[0..2] and, in `right`,
// row[3..5]; pixel a in the low half, b in the high half.
__attribute__((target("avx2"))) inline void pair_taps(const std::uint8_t* a, const std::uint8_t* b, __m256i& left,
                                                       __m256i& right) {
  std::int32_t a0, a2, b0, b2;
  std::memcpy(&a0, a, 4);
  std::memcpy(&a2, a + 2, 4);
  std::memcpy(&b0, b, 4);
  std::memcpy(&b2, b + 2, 4);
  left = _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, b0, a0));
  right = _mm256_srli_si256(_mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, b2, a2)), 4);
}

// Two pixels' samples (taps at pa, pb; weights lanes i and i+1 of wx, wy) into da, db.
__attribute__((target("avx2"))) inline void sample_pair(const std::uint8_t* pa, const std::uint8_t* pb,
                                                         std::ptrdiff_t stride, __m256i wx, __m256i wy,
                                                         std::uint8_t* da, std::uint8_t* db) {
  __m256i p0, p1, q0, q1;
  pair_taps(pa, pb, p0, p1);
  pair_taps(pa + stride, pb + stride, q0, q1);
  const __m256i one = _mm256_set1_epi32(kOne);
  const __m256i top = _mm256_add_epi32(_mm256_mullo_epi32(p0, _mm256_sub_epi32(one, wx)), _mm256_mullo_epi32(p1, wx));
  const __m256i bottom =
      _mm256_add_epi32(_mm256_mullo_epi32(q0, _mm256_sub_epi32(one, wx)), _mm256_mullo_epi32(q1, wx));
  __m256i v = _mm256_add_epi32(_mm256_mullo_epi32(top, _mm256_sub_epi32(one, wy)), _mm256_mullo_epi32(bottom, wy));
  v = _mm256_srai_epi32(_mm256_add_epi32(v, _mm256_set1_epi32(1 << (2 * kBits - 1))), 2 * kBits);
  v = _mm256_packus_epi16(_mm256_packus_epi32(v, v), v);  // levels 0..255: exact; a in bytes 0..2, b in 16..18
  const std::int32_t ba = _mm256_cvtsi256_si32(v), bb = _mm_cvtsi128_si32(_mm256_extracti128_si256(v, 1));
  std::memcpy(da, &ba, 3);
  std::memcpy(db, &bb, 3);
}

// Affine RGB rows (m's last row 0, 0, 1). Groups of four pixels with a tap outside the image, and a row's last
// pixels, go through the scalar per-pixel code.
__attribute__((target("avx2"))) void warp_rows_rgb_avx2(const ImageView& img, const Matrix3& m, int out_w,
                                                         std::uint8_t border, std::uint8_t* out, int row_begin,
                                                         int row_end) {
  const double max_x = img.width - 1, max_y = img.height - 1;
  const __m256d lanes = _mm256_set_pd(3.0, 2.0, 1.0, 0.0), zero = _mm256_setzero_pd();
  const __m256d vmax_x = _mm256_set1_pd(max_x), vmax_y = _mm256_set1_pd(max_y);
  const __m256d one = _mm256_set1_pd(kOne), half = _mm256_set1_pd(0.5);
  const __m256d m0 = _mm256_set1_pd(m[0]), m3 = _mm256_set1_pd(m[3]);
  const __m256i first_pair = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i second_pair = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  const std::ptrdiff_t stride = img.row_stride;
  for (int y = row_begin; y < row_end; ++y) {
    std::uint8_t* row_out = out + static_cast<std::size_t>(y) * static_cast<std::size_t>(out_w) * 3;
    const double row_x = m[1] * y + m[2], row_y = m[4] * y + m[5];
    const __m256d rx = _mm256_set1_pd(row_x), ry = _mm256_set1_pd(row_y);
    int x = 0;
    for (; x + 4 <= out_w; x += 4) {
      std::uint8_t* dst = row_out + 3 * static_cast<std::size_t>(x);
      const __m256d xs = _mm256_add_pd(_mm256_set1_pd(x), lanes);
      const __m256d sx = _mm256_add_pd(rx, _mm256_mul_pd(m0, xs)), sy = _mm256_add_pd(ry, _mm256_mul_pd(m3, xs));
      const __m256d inside = _mm256_and_pd(
          _mm256_and_pd(_mm256_cmp_pd(sx, zero, _CMP_GE_OQ), _mm256_cmp_pd(sy, zero, _CMP_GE_OQ)),
          _mm256_and_pd(_mm256_cmp_pd(sx, vmax_x, _CMP_LT_OQ), _mm256_cmp_pd(sy, vmax_y, _CMP_LT_OQ)));
      if (_mm256_movemask_pd(inside) != 0xF) {
        alignas(32) double px[4], py[4];
        _mm256_store_pd(px, sx);
        _mm256_store_pd(py, sy);
        for (int i = 0; i < 4; ++i) sample_rgb(img, px[i], py[i], border, dst + 3 * i);
        continue;
      }
      const __m128i x0 = _mm256_cvttpd_epi32(sx), y0 = _mm256_cvttpd_epi32(sy);
      const __m128i wx = _mm256_cvttpd_epi32(
          _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(sx, _mm256_cvtepi32_pd(x0)), one), half));
      const __m128i wy = _mm256_cvttpd_epi32(
          _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(sy, _mm256_cvtepi32_pd(y0)), one), half));
      alignas(16) std::int32_t ix[4], iy[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(ix), x0);
      _mm_store_si128(reinterpret_cast<__m128i*>(iy), y0);
      const std::uint8_t* taps[4];
      for (int i = 0; i < 4; ++i) taps[i] = img.row(iy[i]) + 3 * ix[i];
      const __m256i wx8 = _mm256_castsi128_si256(wx), wy8 = _mm256_castsi128_si256(wy);
      sample_pair(taps[0], taps[1], stride, _mm256_permutevar8x32_epi32(wx8, first_pair),
                  _mm256_permutevar8x32_epi32(wy8, first_pair), dst, dst + 3);
      sample_pair(taps[2], taps[3], stride, _mm256_permutevar8x32_epi32(wx8, second_pair),
                  _mm256_permutevar8x32_epi32(wy8, second_pair), dst + 6, dst + 9);
    }
    for (; x < out_w; ++x)
      sample_rgb(img, row_x + m[0] * x, row_y + m[3] * x, border, row_out + 3 * static_cast<std::size_t>(x));
  }
}

#endif

}  // namespace

void warp_rows(const ImageView& img, const Matrix3& m, int out_h, int out_w, std::uint8_t border,
               std::uint8_t* out, int row_begin, int row_end, SimdLevel simd) {
  (void)out_h;
  if (img.format == PixelFormat::Nv12) {
    warp_rows_nv12(img, m, out_w, border, out, row_begin, row_end);
    return;
  }
#ifdef KUZET_WARP_AVX2
  const bool affine = m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0;  // plate rectification is projective
  if (affine && usable_simd_level(simd) >= SimdLevel::Avx2) {
    warp_rows_rgb_avx2(img, m, out_w, border, out, row_begin, row_end);
    return;
  }
#else
  (void)simd;  // no vector loops for this architecture
#endif
  for (int y = row_begin; y < row_end; ++y) {
    map_row(m, y, out_w, out, [&](std::uint8_t* dst, double sx, double sy) { sample_rgb(img, sx, sy, border, dst); });
  }
}

void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                std::uint8_t* out, unsigned threads, SimdLevel simd) {
  const std::size_t n = matrices.size();
  if (n == 0) return;
  const std::size_t per_crop = static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  const std::size_t bands = std::max<std::size_t>(1, (threads_for(threads) + n - 1) / n);
  parallel_for(n * bands, [&](std::size_t task) {
    const std::size_t k = task / bands, band = task % bands;
    const int begin = static_cast<int>(band * static_cast<std::size_t>(out_h) / bands);
    const int end = static_cast<int>((band + 1) * static_cast<std::size_t>(out_h) / bands);
    warp_rows(images[static_cast<std::size_t>(image_index[k])], matrices[k], out_h, out_w, border,
              out + k * per_crop, begin, end, simd);
  }, threads);
}

}  // namespace kuzet::vision
