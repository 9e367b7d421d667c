#include "record/byte_pipe.hpp"

#include <algorithm>
#include <cstring>

namespace kuzet::record {

void BytePipe::write(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  std::unique_lock<std::mutex> lock(mutex_);
  // A chunk larger than the capacity still goes in once the pipe is empty: the reader never deadlocks.
  writable_.wait(lock, [&] { return closed_ || queued_ == 0 || queued_ + size <= capacity_; });
  if (closed_) return;
  chunks_.emplace_back(data, data + size);
  queued_ += size;
  readable_.notify_one();
}

int BytePipe::read(std::uint8_t* out, int size) {
  std::unique_lock<std::mutex> lock(mutex_);
  readable_.wait(lock, [&] { return closed_ || !chunks_.empty(); });
  int copied = 0;
  while (copied < size && !chunks_.empty()) {
    const std::vector<std::uint8_t>& chunk = chunks_.front();
    const std::size_t n = std::min(chunk.size() - front_offset_, static_cast<std::size_t>(size - copied));
    std::memcpy(out + copied, chunk.data() + front_offset_, n);
    copied += static_cast<int>(n);
    front_offset_ += n;
    queued_ -= n;
    if (front_offset_ == chunk.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  writable_.notify_all();
  return copied;
}

void BytePipe::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  readable_.notify_all();
  writable_.notify_all();
}

}  // namespace kuzet::record
