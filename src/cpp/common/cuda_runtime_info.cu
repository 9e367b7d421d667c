#include <cuda_runtime.h>

#include "common/cuda_runtime_info.hpp"

namespace kuzet {

CudaRuntimeInfo query_cuda_runtime() {
  CudaRuntimeInfo info;
  info.built = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.error = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    info.devices.push_back({i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  return info;
}

}  // namespace kuzet
