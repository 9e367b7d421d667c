// What the CUDA runtime sees at run time. Defined in cuda_runtime_info.cu in CUDA builds; in CPU-only
// builds cuda_runtime_info_stub.cpp reports no devices.
#pragma once
#include <string>
#include <vector>

namespace kuzet {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  size_t total_memory = 0;
};

struct CudaRuntimeInfo {
  bool built = false;       // kuzet was compiled with its CUDA kernels
  int runtime_version = 0;  // cudart version compiled in (e.g. 13000)
  int driver_version = 0;   // 0 when no driver is loaded
  std::string error;        // why no device is usable, if none is
  std::vector<CudaDeviceInfo> devices;
};

CudaRuntimeInfo query_cuda_runtime();

// Why CUDA device `device` cannot be used (no CUDA build, no driver, no such device), or "" when it exists.
std::string cuda_device_unusable(int device);

}  // namespace kuzet
