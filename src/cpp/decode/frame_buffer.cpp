#include "decode/frame_buffer.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/errors.hpp"

extern "C" {
#include <libavutil/mem.h>
}

namespace kuzet::decode {

namespace {

constexpr size_t kMaxPooledBytes = size_t{192} << 20;  // idle memory the pool may keep
constexpr size_t kMaxPerSize = 8;                        // a batch or a live queue returns several at once

struct Pool {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<uint8_t*>> free_by_size;
  size_t pooled_bytes = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: arrays may outlive static destruction at exit
  return *p;
}

}  // namespace

FrameBufferPool& FrameBufferPool::instance() {
  static FrameBufferPool p;
  return p;
}

uint8_t* FrameBufferPool::acquire(size_t bytes) {
  const size_t n = bytes == 0 ? 1 : bytes;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    auto it = p.free_by_size.find(n);
    if (it != p.free_by_size.end() && !it->second.empty()) {
      uint8_t* data = it->second.back();
      it->second.pop_back();
      p.pooled_bytes -= n;
      return data;
    }
  }
  auto* data = static_cast<uint8_t*>(av_malloc(n));
  if (!data) throw Error("out of memory allocating a " + std::to_string(n) + "-byte frame buffer");
  return data;
}

void FrameBufferPool::release(uint8_t* data, size_t bytes) {
  if (!data) return;
  const size_t n = bytes == 0 ? 1 : bytes;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    auto& list = p.free_by_size[n];
    if (list.size() < kMaxPerSize && p.pooled_bytes + n <= kMaxPooledBytes) {
      list.push_back(data);
      p.pooled_bytes += n;
      return;
    }
  }
  av_free(data);
}

}  // namespace kuzet::decode
