// Output memory for converted frames, handed to numpy, which then owns it (the array's base capsule
// gives it back), so frames reach Python without a copy. Buffers are recycled through a small pool:
// a fresh multi-megabyte allocation per frame costs a page fault per 4 KiB page when first written,
// which was a fifth of the CPU time of RGB decoding at 1080p.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace kuzet::decode {

class FrameBufferPool {
 public:
  static FrameBufferPool& instance();
  uint8_t* acquire(size_t bytes);             // throws kuzet::Error when out of memory
  void release(uint8_t* data, size_t bytes);  // keeps it for reuse, or frees it when the pool is full
};

struct PooledFree {
  size_t bytes = 0;
  void operator()(uint8_t* p) const { FrameBufferPool::instance().release(p, bytes); }
};
using FrameBuffer = std::unique_ptr<uint8_t, PooledFree>;

inline FrameBuffer allocate_frame_buffer(size_t bytes) {
  return FrameBuffer(FrameBufferPool::instance().acquire(bytes), PooledFree{bytes});
}

}  // namespace kuzet::decode
