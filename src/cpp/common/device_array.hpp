// GPU memory handed to Python: a DeviceBuffer owns one device allocation (stream-ordered pool memory,
// freed when the last DeviceArray or DLPack capsule referring to it is gone); a DeviceArray is a
// C-contiguous uint8 view of it with a shape. The header is CUDA-free so it compiles in every build;
// device_memory.cu implements the memory calls, device_memory_stub.cpp refuses them in CPU-only builds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kuzet {

class DeviceBuffer {
 public:
  // Allocates `bytes` on CUDA device `device`, ordered after the work already queued on `stream`
  // (a cudaStream_t; null = the legacy default stream). Throws kuzet::Error when out of memory.
  DeviceBuffer(size_t bytes, int device, void* stream);
  // Host memory in place of device memory, so that the hand-over protocols (DLPack capsules, ownership,
  // shapes) run in tests on machines without a GPU: arrays over it report the CPU as their device.
  static std::shared_ptr<DeviceBuffer> on_host(size_t bytes);
  static int host_buffers_alive();  // for the tests of ownership
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }  // -1 for host memory
  bool host() const { return host_; }

 private:
  struct HostTag {};
  DeviceBuffer(HostTag, size_t bytes);
  void release_host();

  void* data_ = nullptr;
  size_t bytes_ = 0;
  int device_ = 0;
  bool pooled_ = false;  // came from cudaMallocAsync (freed with cudaFreeAsync)
  bool host_ = false;    // host memory (on_host)
};

class DeviceArray {
 public:
  DeviceArray(std::shared_ptr<DeviceBuffer> buffer, std::vector<int64_t> shape);

  const std::shared_ptr<DeviceBuffer>& buffer() const { return buffer_; }
  uintptr_t data() const { return reinterpret_cast<uintptr_t>(buffer_->data()); }
  int device() const { return buffer_->device(); }
  const std::vector<int64_t>& shape() const { return shape_; }
  std::vector<int64_t> strides_bytes() const;  // C-contiguous
  size_t nbytes() const;

  // Copies the whole array into `dst` (host memory of nbytes()). Blocks until done.
  void copy_to_host(void* dst) const;

 private:
  std::shared_ptr<DeviceBuffer> buffer_;
  std::vector<int64_t> shape_;
};

// Host-to-device copy into `dst` (device memory), used where a frame had to be converted on the CPU.
void copy_host_to_device(void* dst, const void* src, size_t bytes, void* stream);

// Waits for the work queued on a producer's stream, given as __cuda_array_interface__ v3 gives it
// (1: legacy default stream, 2: per-thread default stream, else a cudaStream_t).
void synchronize_stream(uintptr_t stream, int device);

// Where memory at `address` is, as CUDA sees it: a kernel or onnxruntime on a device may use device memory of
// that device, managed memory and pinned host memory; pageable host memory (or an address CUDA does not know)
// and another device's memory fault there, leaving the context unusable for the whole process.
enum class MemoryKind { Device, Managed, PinnedHost, Unregistered };
struct MemoryPlace {
  MemoryKind kind = MemoryKind::Unregistered;
  int device = -1;  // Device: its index
};
MemoryPlace memory_place(const void* address);  // throws Error when CUDA itself is unusable (no driver)

// Makes `device` current on this thread until destroyed, then restores the thread's previous state (as
// CudaDeviceGuard does): around calls into libraries that switch the current device and leave it switched
// (onnxruntime's CUDA EP), so that a caller's own CuPy/PyTorch code on the thread keeps its device.
class DeviceScope {
 public:
  explicit DeviceScope(int device);  // throws Error when the device cannot be selected
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  struct Guard;
  std::unique_ptr<Guard> guard_;
};

}  // namespace kuzet
