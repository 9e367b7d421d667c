// CUDA twins of preprocess_batch and warp_batch: same inputs, same results (to within one grey level), the
// pixel work done on a GPU. Built only when KUZET_WITH_CUDA; otherwise every function throws kuzet::Error.
#pragma once
#include <cstdint>
#include <vector>

#include "preprocess/image_view.hpp"
#include "preprocess/preprocess.hpp"
#include "preprocess/warp.hpp"

namespace kuzet::vision::cuda {

// True when this build has the CUDA kernels (a device may still be missing at run time).
bool built();

// images are host memory. out: N*3*out_h*out_w floats, in device memory when out_on_device (e.g. the input
// buffer ONNX Runtime reads through IOBinding), else host memory. transforms: N*4 floats, host.
void preprocess_batch(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                      bool out_on_device, float* transforms, int device);

// images are host memory; out is host memory (M*out_h*out_w*3 bytes).
void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border, std::uint8_t* out,
                int device);

}  // namespace kuzet::vision::cuda
