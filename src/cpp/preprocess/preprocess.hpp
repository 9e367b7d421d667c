// Batched model-input preparation: bilinear resize (letterbox / stretch / keep-height), channel order and
// per-channel normalisation in one pass per image, written straight into a float32 NCHW batch.
#pragma once
#include <array>
#include <vector>

#include "common/simd.hpp"
#include "preprocess/image_view.hpp"

namespace kuzet::vision {

enum class Fit { LetterboxCenter, LetterboxTopLeft, Stretch, KeepHeight };

struct PreprocessOptions {
  int out_h = 0;
  int out_w = 0;
  bool bgr = false;  // output channel 0 is blue when true (sources are RGB)
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> scale{1.f, 1.f, 1.f};  // out = (value - mean[c]) * scale[c], per output channel
  Fit fit = Fit::LetterboxCenter;
  float pad_value = 0.f;  // in output (normalised) units
};

// Where an image lands in the model input: orig_x = (model_x - pad_x) / scale_x (same for y).
struct ResizePlan {
  int new_w = 0, new_h = 0;  // size of the resized image inside the output
  int pad_x = 0, pad_y = 0;  // its top-left corner in the output
  float scale_x = 1.f, scale_y = 1.f;
};

ResizePlan plan_resize(int height, int width, const PreprocessOptions& opt);

// Fills output rows [row_begin, row_end) of one image's 3 planes (out points at plane 0, 3*out_h*out_w floats).
// Every SimdLevel gives the same bits (RGB sources have an AVX2 build of the same loops).
void preprocess_rows(const ImageView& img, const ResizePlan& plan, const PreprocessOptions& opt, float* out,
                     int row_begin, int row_end, SimdLevel simd = SimdLevel::Auto);

// The whole batch on native threads: out is N*3*out_h*out_w floats, transforms N*4 floats
// (scale_x, scale_y, pad_x, pad_y). Validation of the arguments is the caller's job.
// threads: native threads to use, 0 = worker_count().
void preprocess_batch(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                      float* transforms, unsigned threads = 0, SimdLevel simd = SimdLevel::Auto);

}  // namespace kuzet::vision
