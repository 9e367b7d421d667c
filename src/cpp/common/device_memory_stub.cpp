// CPU-only builds: no CUDA runtime, so no device memory; nothing can create a DeviceBuffer here.
#ifndef KUZET_WITH_CUDA
#include "common/device_array.hpp"
#include "common/errors.hpp"

namespace kuzet {

namespace {
const char* const kNoCuda = "kuzet was built without CUDA: no GPU memory is available";
}

DeviceBuffer::DeviceBuffer(size_t, int, void*) { throw Error(kNoCuda); }
DeviceBuffer::~DeviceBuffer() = default;
void DeviceArray::copy_to_host(void*) const { throw Error(kNoCuda); }
void copy_host_to_device(void*, const void*, size_t, void*) { throw Error(kNoCuda); }

}  // namespace kuzet
#endif
