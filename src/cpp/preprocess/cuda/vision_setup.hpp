// Host-side setup of the CUDA pre-processing and warp kernels, shared by their launches (vision_cuda.cu) and
// their host twin (vision_on_host.cpp) so that both run the per-pixel code on the same parameters.
// CUDA-free: "device" addresses are plain pointers here (into device memory for the kernels, host memory
// for the twin).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "preprocess/cuda/vision_pixels.hpp"
#include "preprocess/image_view.hpp"
#include "preprocess/preprocess.hpp"
#include "preprocess/warp.hpp"

namespace kuzet::vision::cuda {

// Bytes of one source image packed for upload: rows of width*3 bytes, or the luma plane then the U/V plane.
std::size_t packed_image_bytes(const ImageView& img);
std::size_t packed_bytes(const std::vector<ImageView>& images);

// Where each image lies once packed, one after the other, from `base` (rows of exactly width*3 bytes, or
// width bytes for NV12, the U/V plane right after the luma plane).
std::vector<DeviceImage> packed_layout(const std::vector<ImageView>& images, const std::uint8_t* base);

// Images read where they are (device sources: NVDEC frames, CuPy arrays), with their own strides.
std::vector<DeviceImage> in_place_layout(const std::vector<ImageView>& images);

// Plans of the images (as the CPU version computes them) with the tap table they index, and their transforms
// (N*4 floats, host).
struct Plans {
  std::vector<PlanParams> params;
  std::vector<Tap> taps;
};
Plans plan_all(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* transforms);

Normalise normalise_of(const PreprocessOptions& opt);

// The matrices one after the other (9 doubles each), as the warp kernel reads them.
std::vector<double> flatten(const std::vector<Matrix3>& matrices);

// One grid layer per image or crop: CUDA allows at most 65535 (InvalidArgument beyond).
void check_grid_depth(std::size_t count);

}  // namespace kuzet::vision::cuda
