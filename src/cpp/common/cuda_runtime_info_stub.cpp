// CPU-only builds: no CUDA runtime is linked, so there is nothing to ask.
#ifndef KUZET_WITH_CUDA
#include "common/cuda_runtime_info.hpp"

namespace kuzet {

CudaRuntimeInfo query_cuda_runtime() {
  CudaRuntimeInfo info;
  info.error = "kuzet was built without CUDA";
  return info;
}

std::string cuda_device_unusable(int) { return "kuzet was built without CUDA"; }

}  // namespace kuzet
#endif
