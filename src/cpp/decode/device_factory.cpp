// Picks the device interface: the CPU, or CUDA/NVDEC (decode/cuda_device.cpp; unavailable in CPU-only builds).
#include <cctype>

#include "decode/cpu_device.hpp"
#include "decode/cuda_device.hpp"
#include "decode/decode_errors.hpp"
#include "decode/nvdec_support.hpp"

namespace kuzet::decode {

int cuda_device_index(const std::string& device) {
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) != 0 || device.size() == 5 || device.size() > 8) return -1;
  int index = 0;
  for (size_t i = 5; i < device.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(device[i]))) return -1;
    index = index * 10 + (device[i] - '0');
  }
  return index;
}

std::unique_ptr<DeviceInterface> make_device(const std::string& device, bool nvdec_fallback) {
  if (device == "cpu") return std::make_unique<CpuDevice>();
  if (device == "auto") {
    if (!nvdec_status().available) return std::make_unique<CpuDevice>();
    return make_cuda_device(0, /*strict=*/false);
  }
  const int index = cuda_device_index(device);
  if (index >= 0 && nvdec_fallback) {
    if (!nvdec_prerequisites().available) return std::make_unique<CpuDevice>();
    return make_cuda_device(index, /*strict=*/false);
  }
  if (index >= 0) return make_cuda_device(index, /*strict=*/true);
  throw InvalidArgument("device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '" + device + "'");
}

}  // namespace kuzet::decode
