#include "decode/cpu_yuv_to_rgb.hpp"

#include <cstddef>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KUZET_X86_SIMD 1
#define KUZET_TARGET_AVX2 __attribute__((target("avx2")))
#define KUZET_TARGET_AVX512 __attribute__((target("avx2,avx512f,avx512bw")))
#else
#define KUZET_X86_SIMD 0
#endif

namespace kuzet::decode {

namespace {

// Where one output row goes: packed, p0 is the row's first byte; planar, p0/p1/p2 are its R/G/B rows.
struct RowOut {
  uint8_t* p0;
  uint8_t* p1;
  uint8_t* p2;
};

// One row of 4:2:0 input: luma, and the chroma row it shares with its neighbour (NV12: u is U/V pairs).
struct RowIn {
  const uint8_t* y;
  const uint8_t* u;
  const uint8_t* v;
  bool nv12;
};

// Pixels [x, width) of a row, one at a time: the reference the vector code must equal, and its tail.
void scalar_pixels(const RowIn& in, int x, int width, const YuvCoeffs& c, RgbPacking packing, const RowOut& out) {
  for (; x < width; ++x) {
    const int cx = x / 2;
    const int32_t u = in.nv12 ? in.u[2 * cx] : in.u[cx];
    const int32_t v = in.nv12 ? in.u[2 * cx + 1] : in.v[cx];
    uint8_t r, g, b;
    yuv_to_rgb(c, in.y[x], u, v, r, g, b);
    if (packing == RgbPacking::Planar) {
      out.p0[x] = r;
      out.p1[x] = g;
      out.p2[x] = b;
    } else {
      uint8_t* p = out.p0 + 3 * static_cast<ptrdiff_t>(x);
      p[0] = packing == RgbPacking::Rgb ? r : b;
      p[1] = g;
      p[2] = packing == RgbPacking::Rgb ? b : r;
    }
  }
}

#if KUZET_X86_SIMD

// pshufb masks that interleave three 16-byte channel vectors (first, second, third) into 48 bytes of
// packed pixels: kInterleave[k][c] picks channel c's bytes of output block k (-128 writes a zero).
struct InterleaveMasks {
  int8_t m[3][3][32];
};

constexpr InterleaveMasks make_interleave_masks() {
  InterleaveMasks s{};
  for (int k = 0; k < 3; ++k) {
    for (int c = 0; c < 3; ++c) {
      for (int j = 0; j < 16; ++j) {
        const int pos = 16 * k + j;
        const auto pick = static_cast<int8_t>(pos % 3 == c ? pos / 3 : -128);
        s.m[k][c][j] = pick;       // the low 128-bit lane
        s.m[k][c][j + 16] = pick;  // pshufb works per lane: the high lane gets the same mask
      }
    }
  }
  return s;
}

constexpr InterleaveMasks kInterleave = make_interleave_masks();

KUZET_TARGET_AVX2 inline __m256i mask_avx2(int k, int c) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kInterleave.m[k][c]));
}

// 32 pixels of three channels (32 bytes each, in pixel order) -> 96 bytes of packed pixels.
KUZET_TARGET_AVX2 inline void store_packed_avx2(__m256i first, __m256i second, __m256i third, uint8_t* dst) {
  __m256i o[3];
  for (int k = 0; k < 3; ++k) {
    o[k] = _mm256_or_si256(_mm256_or_si256(_mm256_shuffle_epi8(first, mask_avx2(k, 0)),
                                           _mm256_shuffle_epi8(second, mask_avx2(k, 1))),
                           _mm256_shuffle_epi8(third, mask_avx2(k, 2)));
  }
  // o[k] holds block k of pixels 0-15 in its low lane and block k of pixels 16-31 in its high lane.
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute2x128_si256(o[0], o[1], 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm256_permute2x128_si256(o[2], o[0], 0x30));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64), _mm256_permute2x128_si256(o[1], o[2], 0x31));
}

// Even and odd pixels' 16-bit results -> their bytes in pixel order, saturated like packuswb.
KUZET_TARGET_AVX2 inline __m256i join_avx2(__m256i even, __m256i odd) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i max = _mm256_set1_epi16(255);
  even = _mm256_min_epi16(_mm256_max_epi16(even, zero), max);
  odd = _mm256_min_epi16(_mm256_max_epi16(odd, zero), max);
  return _mm256_or_si256(even, _mm256_slli_epi16(odd, 8));
}

// Blocks of 32 pixels from x on; returns where it stopped. The arithmetic is swscale's SSSE3 code's:
// psllw 3, psubsw offset, pmulhw coefficient, paddsw, pack with unsigned saturation.
KUZET_TARGET_AVX2 int avx2_pixels(const RowIn& in, int x, int width, const YuvCoeffs& c, RgbPacking packing,
                                  const RowOut& out) {
  const __m256i y_coeff = _mm256_set1_epi16(static_cast<int16_t>(c.y_coeff));
  const __m256i y_offset = _mm256_set1_epi16(static_cast<int16_t>(c.y_offset));
  const __m256i vr = _mm256_set1_epi16(static_cast<int16_t>(c.vr));
  const __m256i ub = _mm256_set1_epi16(static_cast<int16_t>(c.ub));
  const __m256i ug = _mm256_set1_epi16(static_cast<int16_t>(c.ug));
  const __m256i vg = _mm256_set1_epi16(static_cast<int16_t>(c.vg));
  const __m256i chroma_offset = _mm256_set1_epi16(1024);
  const __m256i low_byte = _mm256_set1_epi16(0x00FF);
  for (; x + 32 <= width; x += 32) {
    __m256i u, v;
    if (in.nv12) {
      const __m256i uv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.u + x));
      u = _mm256_and_si256(uv, low_byte);
      v = _mm256_srli_epi16(uv, 8);
    } else {
      u = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in.u + x / 2)));
      v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in.v + x / 2)));
    }
    u = _mm256_subs_epi16(_mm256_slli_epi16(u, 3), chroma_offset);
    v = _mm256_subs_epi16(_mm256_slli_epi16(v, 3), chroma_offset);
    const __m256i r_chroma = _mm256_mulhi_epi16(v, vr);
    const __m256i b_chroma = _mm256_mulhi_epi16(u, ub);
    const __m256i g_chroma = _mm256_adds_epi16(_mm256_mulhi_epi16(u, ug), _mm256_mulhi_epi16(v, vg));
    // Luma of even pixels (low byte of each 16-bit word) and odd pixels (high byte): each shares chroma i.
    const __m256i yy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.y + x));
    __m256i y_even = _mm256_slli_epi16(_mm256_and_si256(yy, low_byte), 3);
    __m256i y_odd = _mm256_slli_epi16(_mm256_srli_epi16(yy, 8), 3);
    y_even = _mm256_mulhi_epi16(_mm256_subs_epi16(y_even, y_offset), y_coeff);
    y_odd = _mm256_mulhi_epi16(_mm256_subs_epi16(y_odd, y_offset), y_coeff);
    const __m256i r = join_avx2(_mm256_adds_epi16(y_even, r_chroma), _mm256_adds_epi16(y_odd, r_chroma));
    const __m256i g = join_avx2(_mm256_adds_epi16(y_even, g_chroma), _mm256_adds_epi16(y_odd, g_chroma));
    const __m256i b = join_avx2(_mm256_adds_epi16(y_even, b_chroma), _mm256_adds_epi16(y_odd, b_chroma));
    switch (packing) {
      case RgbPacking::Rgb: store_packed_avx2(r, g, b, out.p0 + 3 * static_cast<ptrdiff_t>(x)); break;
      case RgbPacking::Bgr: store_packed_avx2(b, g, r, out.p0 + 3 * static_cast<ptrdiff_t>(x)); break;
      case RgbPacking::Planar:
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.p0 + x), r);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.p1 + x), g);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.p2 + x), b);
        break;
    }
  }
  return x;
}

KUZET_TARGET_AVX512 inline __m512i join_avx512(__m512i even, __m512i odd) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i max = _mm512_set1_epi16(255);
  even = _mm512_min_epi16(_mm512_max_epi16(even, zero), max);
  odd = _mm512_min_epi16(_mm512_max_epi16(odd, zero), max);
  return _mm512_or_si512(even, _mm512_slli_epi16(odd, 8));
}

// Lower (0) or upper (1) 256 bits. The zero-masked extract: GCC 12 implements the plain one (and
// _mm512_castsi512_si256) with an "undefined" source that -Wmaybe-uninitialized flags in sanitizer builds.
template <int Half>
KUZET_TARGET_AVX512 inline __m256i half_avx512(__m512i v) {
  return _mm512_maskz_extracti64x4_epi64(0xFF, v, Half);
}

// The same arithmetic on blocks of 64 pixels (the packed interleave is done as two AVX2 halves).
KUZET_TARGET_AVX512 int avx512_pixels(const RowIn& in, int x, int width, const YuvCoeffs& c, RgbPacking packing,
                                      const RowOut& out) {
  const __m512i y_coeff = _mm512_set1_epi16(static_cast<int16_t>(c.y_coeff));
  const __m512i y_offset = _mm512_set1_epi16(static_cast<int16_t>(c.y_offset));
  const __m512i vr = _mm512_set1_epi16(static_cast<int16_t>(c.vr));
  const __m512i ub = _mm512_set1_epi16(static_cast<int16_t>(c.ub));
  const __m512i ug = _mm512_set1_epi16(static_cast<int16_t>(c.ug));
  const __m512i vg = _mm512_set1_epi16(static_cast<int16_t>(c.vg));
  const __m512i chroma_offset = _mm512_set1_epi16(1024);
  const __m512i low_byte = _mm512_set1_epi16(0x00FF);
  for (; x + 64 <= width; x += 64) {
    __m512i u, v;
    if (in.nv12) {
      const __m512i uv = _mm512_loadu_si512(in.u + x);
      u = _mm512_and_si512(uv, low_byte);
      v = _mm512_srli_epi16(uv, 8);
    } else {
      u = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.u + x / 2)));
      v = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.v + x / 2)));
    }
    u = _mm512_subs_epi16(_mm512_slli_epi16(u, 3), chroma_offset);
    v = _mm512_subs_epi16(_mm512_slli_epi16(v, 3), chroma_offset);
    const __m512i r_chroma = _mm512_mulhi_epi16(v, vr);
    const __m512i b_chroma = _mm512_mulhi_epi16(u, ub);
    const __m512i g_chroma = _mm512_adds_epi16(_mm512_mulhi_epi16(u, ug), _mm512_mulhi_epi16(v, vg));
    const __m512i yy = _mm512_loadu_si512(in.y + x);
    __m512i y_even = _mm512_slli_epi16(_mm512_and_si512(yy, low_byte), 3);
    __m512i y_odd = _mm512_slli_epi16(_mm512_srli_epi16(yy, 8), 3);
    y_even = _mm512_mulhi_epi16(_mm512_subs_epi16(y_even, y_offset), y_coeff);
    y_odd = _mm512_mulhi_epi16(_mm512_subs_epi16(y_odd, y_offset), y_coeff);
    const __m512i r = join_avx512(_mm512_adds_epi16(y_even, r_chroma), _mm512_adds_epi16(y_odd, r_chroma));
    const __m512i g = join_avx512(_mm512_adds_epi16(y_even, g_chroma), _mm512_adds_epi16(y_odd, g_chroma));
    const __m512i b = join_avx512(_mm512_adds_epi16(y_even, b_chroma), _mm512_adds_epi16(y_odd, b_chroma));
    if (packing == RgbPacking::Planar) {
      _mm512_storeu_si512(out.p0 + x, r);
      _mm512_storeu_si512(out.p1 + x, g);
      _mm512_storeu_si512(out.p2 + x, b);
      continue;
    }
    const __m512i first = packing == RgbPacking::Rgb ? r : b;
    const __m512i third = packing == RgbPacking::Rgb ? b : r;
    uint8_t* p = out.p0 + 3 * static_cast<ptrdiff_t>(x);
    store_packed_avx2(half_avx512<0>(first), half_avx512<0>(g), half_avx512<0>(third), p);
    store_packed_avx2(half_avx512<1>(first), half_avx512<1>(g), half_avx512<1>(third), p + 96);
  }
  return x;
}

#endif

}  // namespace

void yuv420_to_rgb(const Yuv420Frame& src, const YuvCoeffs& coeffs, RgbPacking packing, uint8_t* dst,
                   int row_begin, int row_end, SimdLevel level) {
  const SimdLevel use = usable_simd_level(level);
  const auto width = static_cast<ptrdiff_t>(src.width);
  const ptrdiff_t plane = width * src.height;
  for (int row = row_begin; row < row_end; ++row) {
    const ptrdiff_t chroma_row = row / 2;
    const RowIn in{src.y + row * static_cast<ptrdiff_t>(src.y_stride), src.u + chroma_row * src.u_stride,
                   src.nv12 ? nullptr : src.v + chroma_row * src.v_stride, src.nv12};
    RowOut out{};
    if (packing == RgbPacking::Planar) {
      out.p0 = dst + row * width;
      out.p1 = out.p0 + plane;
      out.p2 = out.p1 + plane;
    } else {
      out.p0 = dst + row * width * 3;
    }
    int x = 0;
#if KUZET_X86_SIMD
    if (use == SimdLevel::Avx512) x = avx512_pixels(in, x, src.width, coeffs, packing, out);
    if (use == SimdLevel::Avx512 || use == SimdLevel::Avx2) x = avx2_pixels(in, x, src.width, coeffs, packing, out);
#else
    (void)use;
#endif
    scalar_pixels(in, x, src.width, coeffs, packing, out);
  }
}

}  // namespace kuzet::decode
