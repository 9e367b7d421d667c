// A bounded in-memory pipe between two threads: the recorder's muxer writes the bytes of the recording,
// the segmenter reads exactly those bytes back (blocking) and demuxes them.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace kuzet::record {

class BytePipe {
 public:
  explicit BytePipe(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Blocks while the pipe is full; bytes written after close() are dropped.
  void write(const std::uint8_t* data, std::size_t size);
  // Up to `size` bytes; blocks until some are there. 0 once the pipe is closed and empty.
  int read(std::uint8_t* out, int size);
  // No more writes: the reader sees the end after the bytes still queued.
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable readable_;
  std::condition_variable writable_;
  std::deque<std::vector<std::uint8_t>> chunks_;
  std::size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  std::size_t queued_ = 0;
  std::size_t capacity_;
  bool closed_ = false;
};

}  // namespace kuzet::record
