// A pool of NVDEC sessions: a CUDA hw device context for FFmpeg (on the device's primary context, so the
// CUDA runtime and FFmpeg share memory) plus the non-blocking stream it decodes and converts on.
// Creating one costs hundreds of ms, so a closed reader returns its session for the next one to reuse.
#pragma once
#include <memory>

extern "C" {
#include <libavutil/buffer.h>
}

namespace kuzet::decode {

struct NvdecSession {
  AVBufferRef* hw_device = nullptr;  // AVHWDeviceContext of type CUDA
  void* stream = nullptr;            // cudaStream_t, also set as the device context's stream
  int device = 0;
};

// Exclusive use of one session; gives it back to the pool when destroyed.
class NvdecSessionLease {
 public:
  explicit NvdecSessionLease(NvdecSession* session) : session_(session) {}
  ~NvdecSessionLease();
  NvdecSessionLease(NvdecSessionLease&& other) noexcept : session_(other.session_) { other.session_ = nullptr; }
  NvdecSessionLease& operator=(NvdecSessionLease&&) = delete;
  NvdecSessionLease(const NvdecSessionLease&) = delete;
  NvdecSessionLease& operator=(const NvdecSessionLease&) = delete;

  const NvdecSession& get() const { return *session_; }

 private:
  NvdecSession* session_;
};

// A free session of CUDA device `device`, or a new one; throws DeviceUnavailable when none can be made.
NvdecSessionLease acquire_nvdec_session(int device);

}  // namespace kuzet::decode
