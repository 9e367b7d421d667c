// Whether a CUDA device has stream-ordered memory pools (cudaMallocAsync); some virtualised GPUs and older
// WSL setups do not, and callers then fall back to cudaMalloc / cudaFree. CUDA builds only.
#pragma once
#include <cuda_runtime.h>

namespace kuzet {

inline bool pools_supported(int device) {
  int supported = 0;
  if (cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device) != cudaSuccess) {
    cudaGetLastError();  // the failed query must not surface as a later call's error
    return false;
  }
  return supported != 0;
}

}  // namespace kuzet
