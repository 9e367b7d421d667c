// Output memory for converted frames: allocated with av_malloc (SIMD-aligned) and handed to numpy,
// which then owns it (the array's base capsule frees it), so frames reach Python without a copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

extern "C" {
#include <libavutil/mem.h>
}

#include "common/errors.hpp"

namespace kuzet::decode {

struct AvFree {
  void operator()(uint8_t* p) const { av_free(p); }
};
using FrameBuffer = std::unique_ptr<uint8_t, AvFree>;

inline FrameBuffer allocate_frame_buffer(size_t bytes) {
  FrameBuffer buf(static_cast<uint8_t*>(av_malloc(bytes == 0 ? 1 : bytes)));
  if (!buf) throw Error("out of memory allocating a " + std::to_string(bytes) + "-byte frame buffer");
  return buf;
}

}  // namespace kuzet::decode
