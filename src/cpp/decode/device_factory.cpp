// Picks the device interface. The CUDA/NVDEC interface plugs in here (KUZET_WITH_CUDA builds).
#include "decode/cpu_device.hpp"
#include "decode/decode_errors.hpp"

namespace kuzet::decode {

std::unique_ptr<DeviceInterface> make_device(const std::string& device) {
  if (device == "cpu") return std::make_unique<CpuDevice>();
  if (device == "cuda") {
#ifdef KUZET_WITH_CUDA
    throw DeviceUnavailable("device='cuda': NVDEC decoding is not implemented in this build yet");
#else
    throw DeviceUnavailable("device='cuda': kuzet was built without CUDA, so NVDEC decoding is unavailable");
#endif
  }
  throw InvalidArgument("device must be 'auto', 'cpu' or 'cuda', got '" + device + "'");
}

}  // namespace kuzet::decode
