#include "common/device_array.hpp"

#include <utility>

#include "common/errors.hpp"

namespace kuzet {

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
