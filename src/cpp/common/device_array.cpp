#include "common/device_array.hpp"

#include <atomic>
#include <cstdint>
#include <utility>

#include "common/errors.hpp"

namespace kuzet {

namespace {
std::atomic<int> host_buffers{0};
}

DeviceBuffer::DeviceBuffer(HostTag, size_t bytes)
    : data_(new std::uint8_t[bytes == 0 ? 1 : bytes]), bytes_(bytes), device_(-1), host_(true) {
  ++host_buffers;
}

std::shared_ptr<DeviceBuffer> DeviceBuffer::on_host(size_t bytes) {
  return std::shared_ptr<DeviceBuffer>(new DeviceBuffer(HostTag{}, bytes));
}

int DeviceBuffer::host_buffers_alive() { return host_buffers.load(); }

void DeviceBuffer::release_host() {
  delete[] static_cast<std::uint8_t*>(data_);
  data_ = nullptr;
  --host_buffers;
}

DeviceArray::DeviceArray(std::shared_ptr<DeviceBuffer> buffer, std::vector<int64_t> shape)
    : buffer_(std::move(buffer)), shape_(std::move(shape)) {
  if (!buffer_) throw InvalidArgument("DeviceArray needs a buffer");
  if (nbytes() > buffer_->bytes()) throw InvalidArgument("DeviceArray shape is larger than its buffer");
}

size_t DeviceArray::nbytes() const {
  size_t n = 1;
  for (int64_t d : shape_) n *= static_cast<size_t>(d);
  return n;
}

std::vector<int64_t> DeviceArray::strides_bytes() const {
  std::vector<int64_t> strides(shape_.size());
  int64_t step = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape_[i];
  }
  return strides;
}

}  // namespace kuzet
