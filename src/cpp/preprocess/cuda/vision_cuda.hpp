// CUDA twins of preprocess_batch and warp_batch: same inputs, the same results bit for bit (the kernels run
// the CPU version's arithmetic, vision_pixels.hpp; checked on the host by vision_on_host.hpp), the pixel work
// done on a GPU. Built only when KUZET_WITH_CUDA; otherwise every function throws kuzet::Error.
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

// The same with sources already in device memory (ImageView::data is a device address: NVDEC frames, CuPy
// arrays, aligned crops), read in place. producer_streams: the cudaStream_t values (as integers, 0 = none)
// of the streams that wrote the sources; each is synchronised before the kernel reads them.
// out_device: N*3*out_h*out_w floats in device memory (e.g. the buffer ONNX Runtime reads through IOBinding).
void preprocess_batch_from_device(const std::vector<ImageView>& device_images,
                                  const std::vector<std::uintptr_t>& producer_streams, const PreprocessOptions& opt,
                                  float* out_device, float* transforms, int device);

// out: M*out_h*out_w*3 bytes, in device memory when out_on_device, else host memory.
void warp_batch_from_device(const std::vector<ImageView>& device_images,
                            const std::vector<std::uintptr_t>& producer_streams, const std::vector<int>& image_index,
                            const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                            std::uint8_t* out, bool out_on_device, int device);

}  // namespace kuzet::vision::cuda
