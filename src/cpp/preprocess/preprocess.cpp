#include "preprocess/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "preprocess/parallel.hpp"

// The RGB row loops are compiled twice, portable and for AVX2 (chosen at run time, common/simd.hpp): their
// helpers are forced inline so that each copy is compiled for its target. The float operations are the same in
// both (no fused multiply-add: -ffp-contract=off), so the outputs are the same bits.
#if defined(__GNUC__)
#define KUZET_ROW_INLINE inline __attribute__((always_inline))
#else
#define KUZET_ROW_INLINE inline
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KUZET_PREPROCESS_AVX2 1
#endif

namespace kuzet::vision {

namespace {

int clamp_size(long v, int hi) { return static_cast<int>(std::clamp<long>(v, 1, hi)); }

// Source sample positions of a bilinear resize with half-pixel centres, like cv2.INTER_LINEAR:
// src = (dst + 0.5) * in/out - 0.5, clamped to the edge (edge pixels are replicated).
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w1;  // weight of i1; i0 gets 1 - w1
};

Taps make_taps(int in, int out) {
  Taps t;
  t.i0.resize(static_cast<std::size_t>(out));
  t.i1.resize(static_cast<std::size_t>(out));
  t.w1.resize(static_cast<std::size_t>(out));
  const double ratio = static_cast<double>(in) / out;
  for (int d = 0; d < out; ++d) {
    const double f = (d + 0.5) * ratio - 0.5;
    int s = static_cast<int>(std::floor(f));
    double a = f - s;
    if (s < 0) {
      s = 0;
      a = 0;
    }
    if (s >= in - 1) {
      s = in - 1;
      a = 0;
    }
    const auto k = static_cast<std::size_t>(d);
    t.i0[k] = s;
    t.i1[k] = std::min(s + 1, in - 1);
    t.w1[k] = static_cast<float>(a);
  }
  return t;
}

// One source row (as floats) resampled horizontally to new_w pixels, as 3 planes of new_w floats (so the
// vertical pass runs over contiguous memory and vectorises).
KUZET_ROW_INLINE void horizontal(const float* src, const Taps& tx, float* dst) {
  const std::size_t n = tx.i0.size();
  float* d0 = dst;
  float* d1 = dst + n;
  float* d2 = dst + 2 * n;
  for (std::size_t x = 0; x < n; ++x) {
    const float* p0 = src + 3 * tx.i0[x];
    const float* p1 = src + 3 * tx.i1[x];
    const float a = tx.w1[x];
    d0[x] = p0[0] + a * (p1[0] - p0[0]);
    d1[x] = p0[1] + a * (p1[1] - p0[1]);
    d2[x] = p0[2] + a * (p1[2] - p0[2]);
  }
}

// A source row's bytes as floats, into `f` (3 * width values): a contiguous loop the compiler vectorises,
// unlike per-channel loops over the interleaved bytes (3x slower, measured). Exact: bytes are small ints.
KUZET_ROW_INLINE void row_to_float(const std::uint8_t* __restrict src, int width, float* __restrict f) {
  const int n = 3 * width;
  for (int i = 0; i < n; ++i) f[i] = static_cast<float>(src[i]);
}

// Output row oy of one image: the three planes' pointers at the resized image's first column, with the
// letterbox padding on both sides written; false (the whole row written as padding) above or below it.
KUZET_ROW_INLINE bool start_output_row(float* out, const PreprocessOptions& opt, const ResizePlan& plan, int oy,
                                       float* dst[3]) {
  const std::size_t plane = static_cast<std::size_t>(opt.out_h) * static_cast<std::size_t>(opt.out_w);
  for (int c = 0; c < 3; ++c)
    dst[c] = out + static_cast<std::size_t>(c) * plane + static_cast<std::size_t>(oy) * opt.out_w;
  const int dy = oy - plan.pad_y;
  if (dy < 0 || dy >= plan.new_h) {
    for (int c = 0; c < 3; ++c) std::fill(dst[c], dst[c] + opt.out_w, opt.pad_value);
    return false;
  }
  for (int c = 0; c < 3; ++c) {
    std::fill(dst[c], dst[c] + plan.pad_x, opt.pad_value);
    std::fill(dst[c] + plan.pad_x + plan.new_w, dst[c] + opt.out_w, opt.pad_value);
    dst[c] += plan.pad_x;
  }
  return true;
}

}  // namespace

ResizePlan plan_resize(int height, int width, const PreprocessOptions& opt) {
  ResizePlan p;
  switch (opt.fit) {
    case Fit::Stretch:
      p.new_w = opt.out_w;
      p.new_h = opt.out_h;
      break;
    case Fit::KeepHeight:
      p.new_h = opt.out_h;
      p.new_w = clamp_size(std::lround(static_cast<double>(opt.out_h) * width / height), opt.out_w);
      break;
    case Fit::LetterboxCenter:
    case Fit::LetterboxTopLeft: {
      const double s = std::min(static_cast<double>(opt.out_w) / width, static_cast<double>(opt.out_h) / height);
      p.new_w = clamp_size(std::lround(width * s), opt.out_w);
      p.new_h = clamp_size(std::lround(height * s), opt.out_h);
      if (opt.fit == Fit::LetterboxCenter) {
        p.pad_x = (opt.out_w - p.new_w) / 2;
        p.pad_y = (opt.out_h - p.new_h) / 2;
      }
      break;
    }
  }
  p.scale_x = static_cast<float>(static_cast<double>(p.new_w) / width);
  p.scale_y = static_cast<float>(static_cast<double>(p.new_h) / height);
  return p;
}

namespace {

// A source row at its own size (no resampling): converted and normalised straight into the output planes.
// Frames already at the model's scale (e.g. 640-wide video into a 640 letterbox) take this path.
template <bool Bgr>
KUZET_ROW_INLINE void convert_row(const float* __restrict f, int width, const float* mul, const float* add,
                                  float* const* dst) {
  float* __restrict d0 = dst[0];
  float* __restrict d1 = dst[1];
  float* __restrict d2 = dst[2];
  const float m0 = mul[0], m1 = mul[1], m2 = mul[2], a0 = add[0], a1 = add[1], a2 = add[2];
  for (int x = 0; x < width; ++x) {
    const float r = f[3 * x], g = f[3 * x + 1], b = f[3 * x + 2];
    d0[x] = (Bgr ? b : r) * m0 + a0;
    d1[x] = g * m1 + a1;
    d2[x] = (Bgr ? r : b) * m2 + a2;
  }
}

}  // namespace

namespace {

// One luma row (or one U/V row) resampled horizontally: `n` floats of luma, or n U values then n V values.
void horizontal_luma(const std::uint8_t* src, const Taps& tx, float* dst) {
  const std::size_t n = tx.i0.size();
  for (std::size_t x = 0; x < n; ++x) {
    const float p0 = src[tx.i0[x]], p1 = src[tx.i1[x]];
    dst[x] = p0 + tx.w1[x] * (p1 - p0);
  }
}

void horizontal_chroma(const std::uint8_t* src, const Taps& tx, float* dst) {
  const std::size_t n = tx.i0.size();
  for (std::size_t x = 0; x < n; ++x) {
    const std::uint8_t* p0 = src + 2 * tx.i0[x];
    const std::uint8_t* p1 = src + 2 * tx.i1[x];
    const float a = tx.w1[x];
    dst[x] = p0[0] + a * (static_cast<float>(p1[0]) - p0[0]);
    dst[n + x] = p0[1] + a * (static_cast<float>(p1[1]) - p0[1]);
  }
}

// Two horizontally resampled source rows kept between output rows (consecutive output rows mostly share
// their source rows): `fetch` resamples only the rows it does not hold already.
class RowPair {
 public:
  using Resample = void (*)(const std::uint8_t*, const Taps&, float*);
  RowPair(std::size_t floats_per_row, Resample resample) : slot_{std::vector<float>(floats_per_row),
      std::vector<float>(floats_per_row)}, resample_(resample) {}

  // Rows r0 and r1 (row(r) gives a source row's bytes) as resampled floats.
  template <class RowAt>
  void fetch(int r0, int r1, const RowAt& row, const Taps& taps, const float*& p0, const float*& p1) {
    const int s0 = find(r0);
    const int s1 = find(r1);
    if (s0 < 0) load(s1 == 0 ? 1 : 0, r0, row, taps);
    if (s1 < 0 && r1 != r0) load(find(r0) == 0 ? 1 : 0, r1, row, taps);
    p0 = slot_[find(r0)].data();
    p1 = slot_[find(r1)].data();
  }

 private:
  int find(int r) const { return held_[0] == r ? 0 : (held_[1] == r ? 1 : -1); }

  template <class RowAt>
  void load(int slot, int r, const RowAt& row, const Taps& taps) {
    resample_(row(r), taps, slot_[slot].data());
    held_[slot] = r;
  }

  std::vector<float> slot_[2];
  int held_[2] = {-1, -1};
  Resample resample_;
};

// NV12 source: luma resampled at full resolution, U and V at half (centred chroma siting: make_taps over the
// half-size plane maps luma position f to chroma position (f + 0.5) / 2 - 0.5), converted to RGB per output
// pixel and normalised, all in this one pass (no intermediate RGB frame).
void preprocess_rows_nv12(const ImageView& img, const ResizePlan& plan, const PreprocessOptions& opt, float* out,
                          int row_begin, int row_end) {
  float mul[3], add[3];
  for (int c = 0; c < 3; ++c) {
    mul[c] = opt.scale[static_cast<std::size_t>(c)];
    add[c] = -opt.mean[static_cast<std::size_t>(c)] * mul[c];
  }
  const Taps tx = make_taps(img.width, plan.new_w);
  const Taps ty = make_taps(img.height, plan.new_h);
  const Taps cx = make_taps(img.width / 2, plan.new_w);
  const Taps cy = make_taps(img.height / 2, plan.new_h);
  const auto w = static_cast<std::size_t>(plan.new_w);
  RowPair luma(w, horizontal_luma), chroma(2 * w, horizontal_chroma);
  const YuvToRgb& m = img.yuv;
  const auto luma_row = [&](int r) { return img.row(r); };
  const auto chroma_row = [&](int r) { return img.uv + static_cast<std::ptrdiff_t>(r) * img.uv_stride; };
  for (int oy = row_begin; oy < row_end; ++oy) {
    float* dst[3];
    if (!start_output_row(out, opt, plan, oy, dst)) continue;
    const int dy = oy - plan.pad_y;
    const auto k = static_cast<std::size_t>(dy);
    const float *l0, *l1, *c0, *c1;
    luma.fetch(ty.i0[k], ty.i1[k], luma_row, tx, l0, l1);
    chroma.fetch(cy.i0[k], cy.i1[k], chroma_row, cx, c0, c1);
    const float ay = ty.w1[k], acy = cy.w1[k];
    float* __restrict d0 = dst[opt.bgr ? 2 : 0];
    float* __restrict d1 = dst[1];
    float* __restrict d2 = dst[opt.bgr ? 0 : 2];
    const float m0 = mul[opt.bgr ? 2 : 0], m1 = mul[1], m2 = mul[opt.bgr ? 0 : 2];
    const float a0 = add[opt.bgr ? 2 : 0], a1 = add[1], a2 = add[opt.bgr ? 0 : 2];
    for (std::size_t x = 0; x < w; ++x) {
      const float y = lerp_level(l0[x], l1[x], ay);
      const float u = lerp_level(c0[x], c1[x], acy);
      const float v = lerp_level(c0[w + x], c1[w + x], acy);
      float rgb[3];
      yuv_to_rgb(m, y, u, v, rgb);
      d0[x] = rgb[0] * m0 + a0;
      d1[x] = rgb[1] * m1 + a1;
      d2[x] = rgb[2] * m2 + a2;
    }
  }
}

}  // namespace

namespace {

// RGB sources: rows [row_begin, row_end) of one image (preprocess_rows), compiled into each target's copy.
KUZET_ROW_INLINE void preprocess_rows_rgb(const ImageView& img, const ResizePlan& plan, const PreprocessOptions& opt,
                                          float* out, int row_begin, int row_end) {
  // Output channel c reads source channel src_c[c]; normalisation folded into one multiply-add.
  int src_c[3];
  float mul[3], add[3];
  for (int c = 0; c < 3; ++c) {
    src_c[c] = opt.bgr ? 2 - c : c;
    mul[c] = opt.scale[static_cast<std::size_t>(c)];
    add[c] = -opt.mean[static_cast<std::size_t>(c)] * mul[c];
  }
  if (plan.new_w == img.width && plan.new_h == img.height) {
    std::vector<float> row(3 * static_cast<std::size_t>(img.width));
    for (int oy = row_begin; oy < row_end; ++oy) {
      float* dst[3];
      if (!start_output_row(out, opt, plan, oy, dst)) continue;
      const int dy = oy - plan.pad_y;
      row_to_float(img.row(dy), img.width, row.data());
      if (opt.bgr)
        convert_row<true>(row.data(), img.width, mul, add, dst);
      else
        convert_row<false>(row.data(), img.width, mul, add, dst);
    }
    return;
  }
  const Taps tx = make_taps(img.width, plan.new_w);
  const Taps ty = make_taps(img.height, plan.new_h);
  std::vector<float> rows(static_cast<std::size_t>(plan.new_w) * 6);
  std::vector<float> source(3 * static_cast<std::size_t>(img.width));  // one source row as floats
  float* h0 = rows.data();
  float* h1 = rows.data() + static_cast<std::size_t>(plan.new_w) * 3;
  int cached0 = -1, cached1 = -1;  // source rows currently in h0 / h1

  for (int oy = row_begin; oy < row_end; ++oy) {
    float* dst[3];
    if (!start_output_row(out, opt, plan, oy, dst)) continue;
    const int dy = oy - plan.pad_y;
    const auto k = static_cast<std::size_t>(dy);
    const int y0 = ty.i0[k], y1 = ty.i1[k];
    if (y0 == cached1) {  // moving down: reuse the lower row as the new upper one
      std::swap(h0, h1);
      std::swap(cached0, cached1);
    }
    if (y0 != cached0) {
      row_to_float(img.row(y0), img.width, source.data());
      horizontal(source.data(), tx, h0);
      cached0 = y0;
    }
    if (y1 != cached1) {
      row_to_float(img.row(y1), img.width, source.data());
      horizontal(source.data(), tx, h1);
      cached1 = y1;
    }
    // out = (top + b * (bottom - top)) * mul + add, folded into two multiply-adds per value.
    const float b = ty.w1[k];
    const float a = 1.f - b;
    for (int c = 0; c < 3; ++c) {
      float* __restrict d = dst[c];
      const std::size_t off = static_cast<std::size_t>(src_c[c]) * static_cast<std::size_t>(plan.new_w);
      const float* __restrict top = h0 + off;
      const float* __restrict bottom = h1 + off;
      const float wa = a * mul[c], wb = b * mul[c], add_c = add[c];
      for (int x = 0; x < plan.new_w; ++x) d[x] = wa * top[x] + wb * bottom[x] + add_c;
    }
  }
}

void preprocess_rows_rgb_portable(const ImageView& img, const ResizePlan& plan, const PreprocessOptions& opt,
                                  float* out, int row_begin, int row_end) {
  preprocess_rows_rgb(img, plan, opt, out, row_begin, row_end);
}

#ifdef KUZET_PREPROCESS_AVX2
__attribute__((target("avx2"))) void preprocess_rows_rgb_avx2(const ImageView& img, const ResizePlan& plan,
                                                               const PreprocessOptions& opt, float* out,
                                                               int row_begin, int row_end) {
  preprocess_rows_rgb(img, plan, opt, out, row_begin, row_end);
}
#endif

}  // namespace

void preprocess_rows(const ImageView& img, const ResizePlan& plan, const PreprocessOptions& opt, float* out,
                     int row_begin, int row_end, SimdLevel simd) {
  if (img.format == PixelFormat::Nv12) {
    preprocess_rows_nv12(img, plan, opt, out, row_begin, row_end);
    return;
  }
#ifdef KUZET_PREPROCESS_AVX2
  if (usable_simd_level(simd) >= SimdLevel::Avx2) {
    preprocess_rows_rgb_avx2(img, plan, opt, out, row_begin, row_end);
    return;
  }
#else
  (void)simd;  // no vector loops for this architecture
#endif
  preprocess_rows_rgb_portable(img, plan, opt, out, row_begin, row_end);
}

void preprocess_batch(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                      float* transforms, unsigned threads, SimdLevel simd) {
  const std::size_t n = images.size();
  if (n == 0) return;
  const std::size_t per_image = 3 * static_cast<std::size_t>(opt.out_h) * static_cast<std::size_t>(opt.out_w);
  std::vector<ResizePlan> plans(n);
  for (std::size_t i = 0; i < n; ++i) {
    plans[i] = plan_resize(images[i].height, images[i].width, opt);
    transforms[4 * i + 0] = plans[i].scale_x;
    transforms[4 * i + 1] = plans[i].scale_y;
    transforms[4 * i + 2] = static_cast<float>(plans[i].pad_x);
    transforms[4 * i + 3] = static_cast<float>(plans[i].pad_y);
  }
  // Split each image into row bands so that a single large image also uses every core.
  const std::size_t workers = threads_for(threads);
  const std::size_t bands = std::max<std::size_t>(1, (workers + n - 1) / n);
  parallel_for(n * bands, [&](std::size_t task) {
    const std::size_t i = task / bands, band = task % bands;
    const int begin = static_cast<int>(band * static_cast<std::size_t>(opt.out_h) / bands);
    const int end = static_cast<int>((band + 1) * static_cast<std::size_t>(opt.out_h) / bands);
    preprocess_rows(images[i], plans[i], opt, out + i * per_image, begin, end, simd);
  }, threads);
}

}  // namespace kuzet::vision
