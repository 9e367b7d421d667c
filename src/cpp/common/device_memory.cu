// CUDA memory for DeviceBuffer. Allocations come from the device's stream-ordered memory pool
// (cudaMallocAsync): frames are allocated and freed at video rate, and cudaFree would synchronise the
// whole device each time, stalling every other decode stream. Frees are queued on the legacy default
// stream, which waits for work already queued on the blocking streams (e.g. a consumer's default stream).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>

#include "common/cuda_device_guard.hpp"
#include "common/device_array.hpp"
#include "common/device_pools.hpp"
#include "common/errors.hpp"

namespace kuzet {

namespace {

// By default the pool hands freed memory back to the driver at every synchronisation, so a reader would
// pay a real allocation per frame; keeping up to this much cached makes frame buffers cheap to recycle.
constexpr uint64_t kPoolKeepBytes = 512ull << 20;

void keep_pool_memory(int device) {
  static std::mutex mutex;
  static std::set<int> done;
  std::lock_guard<std::mutex> lock(mutex);
  if (!done.insert(device).second) return;
  cudaMemPool_t pool = nullptr;
  if (cudaDeviceGetMemPool(&pool, device) != cudaSuccess) {  // the pool cudaMallocAsync uses
    cudaGetLastError();
    return;
  }
  uint64_t current = 0;
  cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &current);
  if (current < kPoolKeepBytes) {  // never lower what the application (or another library) chose
    uint64_t keep = kPoolKeepBytes;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  cudaGetLastError();
}

[[noreturn]] void fail(const std::string& what, cudaError_t err) {
  cudaGetLastError();  // clear the error so the next call starts clean
  throw Error(what + ": " + cudaGetErrorString(err));
}

}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes, int device, void* stream) : bytes_(bytes), device_(device) {
  CudaDeviceGuard guard(device);
  cudaError_t err = guard.result();
  if (err != cudaSuccess) fail("cannot select CUDA device " + std::to_string(device), err);
  const size_t n = bytes == 0 ? 1 : bytes;
  pooled_ = pools_supported(device);
  if (pooled_) keep_pool_memory(device);
  err = pooled_ ? cudaMallocAsync(&data_, n, static_cast<cudaStream_t>(stream)) : cudaMalloc(&data_, n);
  if (err != cudaSuccess) {
    fail("cannot allocate " + std::to_string(bytes) + " bytes on CUDA device " + std::to_string(device), err);
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (host_) {
    release_host();
    return;
  }
  if (!data_) return;
  {
    CudaDeviceGuard guard(device_);
    if (pooled_) {
      cudaFreeAsync(data_, cudaStreamLegacy);
    } else {
      cudaFree(data_);
    }
  }
  // A failed free (e.g. at exit, the runtime already unloading) must not stay behind as the thread's last
  // error, where the next kernel launch check (cudaGetLastError) would report it as its own failure.
  cudaGetLastError();
}

void DeviceArray::copy_to_host(void* dst) const {
  if (buffer_->host()) {
    std::memcpy(dst, buffer_->data(), nbytes());
    return;
  }
  CudaDeviceGuard guard(device());
  cudaError_t err = guard.result();
  if (err == cudaSuccess) err = cudaMemcpy(dst, buffer_->data(), nbytes(), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) fail("copying a CUDA array to the host failed", err);
}

void copy_host_to_device(void* dst, const void* src, size_t bytes, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  cudaError_t err = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s);
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);  // `src` may be freed as soon as we return
  if (err != cudaSuccess) fail("copying a frame to the GPU failed", err);
}

void synchronize_stream(uintptr_t stream, int device) {
  // CUDA defines cudaStreamLegacy as 1 and cudaStreamPerThread as 2: the interface's values are handles too,
  // and name those streams of the current device: the device the data is on.
  CudaDeviceGuard guard(device);
  if (guard.result() != cudaSuccess) fail("cannot select CUDA device " + std::to_string(device), guard.result());
  const cudaError_t err = cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) fail("waiting for the CUDA stream " + std::to_string(stream) + " failed", err);
}

MemoryPlace memory_place(const void* address) {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, address);
  if (err == cudaErrorInvalidValue) {  // not an address CUDA knows
    cudaGetLastError();
    return {};
  }
  if (err != cudaSuccess) fail("CUDA is unusable here", err);  // no driver, no device
  switch (attr.type) {
    case cudaMemoryTypeDevice: return {MemoryKind::Device, attr.device};
    case cudaMemoryTypeManaged: return {MemoryKind::Managed, attr.device};
    case cudaMemoryTypeHost: return {MemoryKind::PinnedHost, attr.device};
    default: return {};
  }
}

struct DeviceScope::Guard {
  CudaDeviceGuard guard;
  explicit Guard(int device) : guard(device) {}
};

DeviceScope::DeviceScope(int device) : guard_(std::make_unique<Guard>(device)) {
  if (guard_->guard.result() != cudaSuccess)
    fail("cannot select CUDA device " + std::to_string(device), guard_->guard.result());
}

DeviceScope::~DeviceScope() = default;

}  // namespace kuzet
