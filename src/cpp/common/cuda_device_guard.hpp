// Makes a CUDA device current for a scope and restores the caller's device afterwards, so kuzet's calls
// never change which device CuPy/PyTorch code on the same thread is using. CUDA builds only.
#pragma once
#include <cuda_runtime.h>

namespace kuzet {

class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    result_ = previous_ == device ? cudaSuccess : cudaSetDevice(device);
  }
  ~CudaDeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

  cudaError_t result() const { return result_; }  // of selecting the device

 private:
  int previous_ = -1;
  cudaError_t result_ = cudaSuccess;
};

}  // namespace kuzet
