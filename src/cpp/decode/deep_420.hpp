// 4:2:0 frames of more than 8 bits per sample (yuv420p10le, yuv420p12le, ... from software decoders) reduced
// to 8 bits exactly as the GPU path reduces NVDEC's P010/P016 frames (decode/cuda/yuv_to_rgb_math.hpp
// to_8bit: the sample moved to the top of 16 bits, + 128, >> 8, at most 255). The CPU then hands out the same
// YUV bytes as the GPU and, through the same 8-bit arithmetic, the same RGB: CPU and GPU decodes of a 10-bit
// stream agree, which swscale's high-bit-depth path (interpolated chroma, dithering) does not.
#pragma once
#include <cstdint>

extern "C" {
#include <libavutil/pixfmt.h>
}

struct AVFrame;

namespace kuzet::decode {

// Bits per sample of a planar little-endian 4:2:0 format of 9 to 16 bits; 0 for any other format.
int deep_420_bits(AVPixelFormat format);

// Writes `frame` (a format deep_420_bits accepts, `bits` its depth) reduced to 8 bits into `dst`, tightly
// packed: as yuv420p (Y, U, V planes) or, with nv12, as NV12 (Y, interleaved U/V). Chroma planes are
// ceil(width/2) x ceil(height/2).
void reduce_deep_420(const AVFrame* frame, int bits, bool nv12, uint8_t* dst);

}  // namespace kuzet::decode
