// CPU-only builds: the CUDA twins exist and say clearly why they cannot run.
#ifndef KUZET_WITH_CUDA
#include "common/errors.hpp"
#include "preprocess/cuda/vision_cuda.hpp"

namespace kuzet::vision::cuda {

namespace {
[[noreturn]] void no_cuda() { throw Error("kuzet was built without CUDA: use device='cpu'"); }
}  // namespace

bool built() { return false; }

void preprocess_batch(const std::vector<ImageView>&, const PreprocessOptions&, float*, bool, float*, int) {
  no_cuda();
}

void warp_batch(const std::vector<ImageView>&, const std::vector<int>&, const std::vector<Matrix3>&, int, int,
                std::uint8_t, std::uint8_t*, int) {
  no_cuda();
}

void preprocess_batch_from_device(const std::vector<ImageView>&, const std::vector<std::uintptr_t>&,
                                  const PreprocessOptions&, float*, float*, int) {
  no_cuda();
}

void warp_batch_from_device(const std::vector<ImageView>&, const std::vector<std::uintptr_t>&,
                            const std::vector<int>&, const std::vector<Matrix3>&, int, int, std::uint8_t,
                            std::uint8_t*, bool, int) {
  no_cuda();
}

}  // namespace kuzet::vision::cuda
#endif
