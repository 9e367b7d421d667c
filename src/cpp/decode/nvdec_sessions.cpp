#ifdef KUZET_WITH_CUDA
#include "decode/nvdec_sessions.hpp"

#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/cuda_device_guard.hpp"
#include "decode/decode_errors.hpp"

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_cuda.h>
}

namespace kuzet::decode {

namespace {

// Sessions live until the process exits (never destroyed: tearing CUDA down during static destruction,
// possibly after the driver unloaded, is unsafe; the pool is bounded by the peak number of readers).
std::mutex pool_mutex;
std::map<int, std::vector<NvdecSession*>> free_sessions;

NvdecSession* create_session(int device) {
  const std::string where = "cuda:" + std::to_string(device);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw DeviceUnavailable(where + ": no usable CUDA device (" + cudaGetErrorString(err) + ")");
  }
  if (device < 0 || device >= count) {
    throw DeviceUnavailable(where + ": no such CUDA device (this machine has " + std::to_string(count) + ")");
  }
  CudaDeviceGuard guard(device);
  err = guard.result();
  cudaStream_t stream = nullptr;
  if (err == cudaSuccess) err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw DeviceUnavailable(where + ": cannot create a CUDA stream (" + cudaGetErrorString(err) + ")");
  }
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "primary_ctx", "1", 0);  // share the runtime's context: our kernels read NVDEC's frames
  AVBufferRef* hw = nullptr;
  const int ret = av_hwdevice_ctx_create(&hw, AV_HWDEVICE_TYPE_CUDA, std::to_string(device).c_str(), opts, 0);
  av_dict_free(&opts);
  if (ret < 0) {
    cudaStreamDestroy(stream);
    throw DeviceUnavailable(where + ": FFmpeg cannot open a CUDA device context (" + av_error_text(ret) + ")");
  }
  // NVDEC copies decoded surfaces on this stream, and the conversion kernels follow on the same one.
  auto* hw_ctx = reinterpret_cast<AVHWDeviceContext*>(hw->data);
  static_cast<AVCUDADeviceContext*>(hw_ctx->hwctx)->stream = stream;
  return new NvdecSession{hw, stream, device};
}

}  // namespace

NvdecSessionLease::~NvdecSessionLease() {
  if (!session_) return;
  std::lock_guard<std::mutex> lock(pool_mutex);
  free_sessions[session_->device].push_back(session_);
}

NvdecSessionLease acquire_nvdec_session(int device) {
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    auto& sessions = free_sessions[device];
    if (!sessions.empty()) {
      NvdecSession* s = sessions.back();
      sessions.pop_back();
      return NvdecSessionLease(s);
    }
  }
  return NvdecSessionLease(create_session(device));  // slow: outside the lock
}

}  // namespace kuzet::decode
#endif
