#include "decode/deep_420.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

extern "C" {
#include <libavutil/frame.h>
}

namespace kuzet::decode {

namespace {

// One row of samples, reduced (see the header). The loop is plain so the compiler vectorises it.
void reduce_row(const uint16_t* src, int count, int shift, uint8_t* dst, int dst_step) {
  for (int i = 0; i < count; ++i) {
    const int v = ((static_cast<int>(src[i]) << shift) + 128) >> 8;
    dst[static_cast<ptrdiff_t>(i) * dst_step] = static_cast<uint8_t>(std::min(v, 255));
  }
}

const uint16_t* row_of(const AVFrame* frame, int plane, int row) {
  const uint8_t* base = frame->data[plane] + static_cast<ptrdiff_t>(row) * frame->linesize[plane];
  return reinterpret_cast<const uint16_t*>(base);  // FFmpeg aligns planes and rows for 16-bit samples
}

}  // namespace

int deep_420_bits(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_YUV420P9LE: return 9;
    case AV_PIX_FMT_YUV420P10LE: return 10;
    case AV_PIX_FMT_YUV420P12LE: return 12;
    case AV_PIX_FMT_YUV420P14LE: return 14;
    case AV_PIX_FMT_YUV420P16LE: return 16;
    default: return 0;
  }
}

void reduce_deep_420(const AVFrame* frame, int bits, bool nv12, uint8_t* dst) {
  const int w = frame->width, h = frame->height;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  const int shift = 16 - bits;  // the sample at the top of 16 bits, as NVDEC's P010/P016 holds it
  for (int row = 0; row < h; ++row) reduce_row(row_of(frame, 0, row), w, shift, dst + static_cast<ptrdiff_t>(row) * w, 1);
  uint8_t* chroma = dst + static_cast<ptrdiff_t>(w) * h;
  for (int row = 0; row < ch; ++row) {
    if (nv12) {
      uint8_t* out = chroma + static_cast<ptrdiff_t>(row) * 2 * cw;
      reduce_row(row_of(frame, 1, row), cw, shift, out, 2);
      reduce_row(row_of(frame, 2, row), cw, shift, out + 1, 2);
    } else {
      reduce_row(row_of(frame, 1, row), cw, shift, chroma + static_cast<ptrdiff_t>(row) * cw, 1);
      reduce_row(row_of(frame, 2, row), cw, shift, chroma + static_cast<ptrdiff_t>(cw) * ch + static_cast<ptrdiff_t>(row) * cw, 1);
    }
  }
}

}  // namespace kuzet::decode
