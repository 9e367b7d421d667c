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

std::string cuda_device_unusable(int device) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA device (") + cudaGetErrorString(err) + ")";
  }
  if (device < 0 || device >= count) return "no such CUDA device (this machine has " + std::to_string(count) + ")";
  return "";
}

}  // namespace kuzet
