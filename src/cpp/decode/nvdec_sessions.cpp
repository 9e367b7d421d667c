#ifdef KUZET_WITH_CUDA
#include "decode/nvdec_sessions.hpp"

#include <cuda.h>
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/cuda_device_guard.hpp"
#include "common/cuda_runtime_info.hpp"
#include "decode/decode_errors.hpp"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_cuda.h>
}

namespace kuzet::decode {

namespace {

// Sessions live until the process exits (never destroyed: tearing CUDA down during static destruction,
// possibly after the driver unloaded, is unsafe; the pool is bounded by the peak number of readers).
// The pool itself is never destroyed either: a reader closed during static destruction (a live reader's
// thread still running at exit) must still find its mutex and list intact.
std::mutex& pool_mutex = *new std::mutex;
std::map<int, std::vector<NvdecSession*>>& free_sessions = *new std::map<int, std::vector<NvdecSession*>>;

// The CUDA runtime's context on `device` (its primary context), retained so that it stays alive for the
// sessions, which live until the process exits. Reached through the runtime's driver entry points: no link
// to libcuda, whose absence must not stop the module from importing.
CUresult retain_primary_context(int device, CUcontext* context) {
  using DeviceGet = CUresult (*)(CUdevice*, int);
  using PrimaryCtxRetain = CUresult (*)(CUcontext*, CUdevice);
  void* get = nullptr;
  void* retain = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  if (cudaGetDriverEntryPointByVersion("cuDeviceGet", &get, 12000, cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess ||
      cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxRetain", &retain, 12000, cudaEnableDefault, &found) !=
          cudaSuccess ||
      found != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return CUDA_ERROR_NOT_FOUND;
  }
  CUdevice dev = 0;
  const CUresult r = reinterpret_cast<DeviceGet>(get)(&dev, device);
  return r != CUDA_SUCCESS ? r : reinterpret_cast<PrimaryCtxRetain>(retain)(context, dev);
}

NvdecSession* create_session(int device) {
  const std::string where = "cuda:" + std::to_string(device);
  if (const std::string why = cuda_device_unusable(device); !why.empty()) throw DeviceUnavailable(where + ": " + why);
  CudaDeviceGuard guard(device);
  cudaError_t err = guard.result();
  cudaStream_t stream = nullptr;
  if (err == cudaSuccess) err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw DeviceUnavailable(where + ": cannot create a CUDA stream (" + cudaGetErrorString(err) + ")");
  }
  // FFmpeg must decode in the runtime's context, or our kernels could not read its frames. Its own way to ask
  // for that (av_hwdevice_ctx_create with primary_ctx=1) refuses a primary context that is already active
  // with scheduling flags other than blocking sync ("Primary context already active with incompatible
  // flags"), which is always so here: creating the stream above made it active with the default flags, and
  // ONNX Runtime, CuPy or PyTorch may have done so before. So FFmpeg is handed the context itself (a
  // caller-supplied AVCUDADeviceContext.cuda_ctx, which FFmpeg uses as it is and never destroys).
  CUcontext context = nullptr;
  if (const CUresult r = retain_primary_context(device, &context); r != CUDA_SUCCESS) {
    cudaStreamDestroy(stream);
    throw DeviceUnavailable(where + ": cannot retain the CUDA primary context (CUresult " + std::to_string(r) + ")");
  }
  AVBufferRef* hw = av_hwdevice_ctx_alloc(AV_HWDEVICE_TYPE_CUDA);
  if (!hw) {
    cudaStreamDestroy(stream);
    throw DeviceUnavailable(where + ": out of memory");
  }
  auto* cuda = static_cast<AVCUDADeviceContext*>(reinterpret_cast<AVHWDeviceContext*>(hw->data)->hwctx);
  cuda->cuda_ctx = context;
  // NVDEC copies decoded surfaces on this stream, and the conversion kernels follow on the same one.
  cuda->stream = stream;
  const int ret = av_hwdevice_ctx_init(hw);
  if (ret < 0) {
    av_buffer_unref(&hw);
    cudaStreamDestroy(stream);
    throw DeviceUnavailable(where + ": FFmpeg cannot open a CUDA device context (" + av_error_text(ret) + ")");
  }
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
