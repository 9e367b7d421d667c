// Makes a CUDA device current for a scope and restores the caller's state afterwards, so kuzet's calls never
// change which device CuPy/PyTorch code on the same thread is using. CUDA builds only.
//
// A thread that never chose a device has no current context, and cudaGetDevice says 0 for it: "restoring"
// device 0 there would create a context on GPU 0 (hundreds of MB) for a process that only uses cuda:1. Such a
// thread is left without a current context instead, through the driver's cuCtxGetCurrent/cuCtxSetCurrent
// (reached through the runtime's driver entry points: the module does not link libcuda).
#pragma once
#include <cuda.h>
#include <cuda_runtime.h>

namespace kuzet {

namespace detail {

struct DriverContextCalls {
  CUresult (*get_current)(CUcontext*) = nullptr;
  CUresult (*set_current)(CUcontext) = nullptr;
};

inline const DriverContextCalls& driver_context_calls() {
  static const DriverContextCalls calls = [] {
    DriverContextCalls c;
    void* get = nullptr;
    void* set = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    const bool have_get =
        cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &get, 12000, cudaEnableDefault, &found) == cudaSuccess &&
        found == cudaDriverEntryPointSuccess;
    const bool have_set =
        cudaGetDriverEntryPointByVersion("cuCtxSetCurrent", &set, 12000, cudaEnableDefault, &found) == cudaSuccess &&
        found == cudaDriverEntryPointSuccess;
    cudaGetLastError();  // a failed lookup (no driver) must not surface as a later call's error
    if (have_get && have_set) {
      c.get_current = reinterpret_cast<CUresult (*)(CUcontext*)>(get);
      c.set_current = reinterpret_cast<CUresult (*)(CUcontext)>(set);
    }
    return c;
  }();
  return calls;
}

}  // namespace detail

class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      cudaGetLastError();
      previous_ = -1;
    }
    if (previous_ == device) return;  // nothing to change, nothing to restore
    const auto& driver = detail::driver_context_calls();
    CUcontext current = nullptr;
    no_context_before_ = driver.get_current != nullptr && driver.get_current(&current) == CUDA_SUCCESS &&
                         current == nullptr;
    result_ = cudaSetDevice(device);
    changed_ = result_ == cudaSuccess;
    if (!changed_) cudaGetLastError();  // reported through result(), not through a later call
  }
  ~CudaDeviceGuard() {
    if (!changed_) return;
    if (no_context_before_) {
      detail::driver_context_calls().set_current(nullptr);
    } else if (previous_ >= 0 && cudaSetDevice(previous_) != cudaSuccess) {
      cudaGetLastError();
    }
  }
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

  cudaError_t result() const { return result_; }  // of selecting the device

 private:
  int previous_ = -1;
  bool changed_ = false;
  bool no_context_before_ = false;
  cudaError_t result_ = cudaSuccess;
};

}  // namespace kuzet
