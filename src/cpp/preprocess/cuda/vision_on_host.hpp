// Host twins of the CUDA pre-processing and warp kernels (vision_cuda.cu): the same per-pixel functions
// (vision_pixels.hpp) on the same parameters (vision_setup.hpp), looped over every output pixel on the CPU.
// Compiled in every build; the reference the tests compare with the CPU implementation where no GPU is.
#pragma once
#include <cstdint>
#include <vector>

#include "preprocess/image_view.hpp"
#include "preprocess/preprocess.hpp"
#include "preprocess/warp.hpp"

namespace kuzet::vision::cuda {

// How the twin reads the sources: packed into one buffer as preprocess_batch / warp_batch upload host images,
// or in place with their own strides as the *_from_device variants read device frames.
enum class SourceLayout { Packed, InPlace };

// As cuda::preprocess_batch: out N*3*out_h*out_w floats, transforms N*4 floats (host memory).
void preprocess_batch_on_host(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                              float* transforms, SourceLayout layout);

// As cuda::warp_batch: out M*out_h*out_w*3 bytes (host memory).
void warp_batch_on_host(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                        const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                        std::uint8_t* out, SourceLayout layout);

}  // namespace kuzet::vision::cuda
