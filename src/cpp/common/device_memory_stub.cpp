// CPU-only builds: no CUDA runtime, so no device memory; only host buffers (DeviceBuffer::on_host) exist here.
#ifndef KUZET_WITH_CUDA
#include <cstring>

#include "common/device_array.hpp"
#include "common/errors.hpp"

namespace kuzet {

namespace {
const char* const kNoCuda = "kuzet was built without CUDA: no GPU memory is available";
}

DeviceBuffer::DeviceBuffer(size_t, int, void*) { throw Error(kNoCuda); }
DeviceBuffer::~DeviceBuffer() {
  if (host_) release_host();
}

void DeviceArray::copy_to_host(void* dst) const {
  if (!buffer_->host()) throw Error(kNoCuda);
  std::memcpy(dst, buffer_->data(), nbytes());
}
void copy_host_to_device(void*, const void*, size_t, void*) { throw Error(kNoCuda); }
void synchronize_stream(uintptr_t, int) { throw Error(kNoCuda); }
MemoryPlace memory_place(const void*) { throw Error(kNoCuda); }
struct DeviceScope::Guard {};
DeviceScope::DeviceScope(int) { throw Error(kNoCuda); }
DeviceScope::~DeviceScope() = default;

}  // namespace kuzet
#endif
