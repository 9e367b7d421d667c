// Copies a decoded frame's planes into one tightly packed buffer (the raw layouts: 'native', and
// 'yuv420p'/'nv12' when the decoder already gives that format), byte for byte what
// av_image_copy_to_buffer(align 1) writes. Frames of at least kStreamingCopyBytes go out with
// non-temporal (streaming) stores where the CPU has AVX2: such a buffer is larger than a core's L2 cache
// anyway, so reading it into the cache first (and evicting the decoder's reference frames for it) only
// costs; measured ~2% less CPU per 1080p frame than memcpy (bench/README.md, Decode). Smaller frames
// use ordinary stores and so stay in cache for whoever reads them next.
#pragma once
#include <cstddef>
#include <cstdint>

extern "C" {
#include <libavutil/frame.h>
}

namespace kuzet::decode {

constexpr size_t kStreamingCopyBytes = size_t{1} << 20;

// `dst` holds `dst_bytes` = av_image_get_buffer_size(frame->format, width, height, 1) bytes.
// `streaming` false forces ordinary stores (tests compare both).
void copy_planes_packed(const AVFrame* frame, uint8_t* dst, size_t dst_bytes, bool streaming = true);

}  // namespace kuzet::decode
