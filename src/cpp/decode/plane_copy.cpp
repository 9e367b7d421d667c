#include "decode/plane_copy.hpp"

#include <algorithm>
#include <cstring>

#include "common/simd.hpp"
#include "decode/decode_errors.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KUZET_X86_SIMD 1
#else
#define KUZET_X86_SIMD 0
#endif

namespace kuzet::decode {

namespace {

#if KUZET_X86_SIMD

// One row: ordinary stores up to a 32-byte boundary of dst, then 32-byte streaming stores, then the tail.
__attribute__((target("avx2"))) void stream_row(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t head = (32 - (reinterpret_cast<uintptr_t>(dst) & 31)) & 31;
  if (head > n) head = n;
  std::memcpy(dst, src, head);
  size_t i = head;
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  for (; i + 32 <= n; i += 32) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
  }
  std::memcpy(dst + i, src + i, n - i);
}

#endif

}  // namespace

void copy_planes_packed(const AVFrame* frame, uint8_t* dst, size_t dst_bytes, bool streaming) {
  const auto format = static_cast<AVPixelFormat>(frame->format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  const bool plain_planes = desc && !(desc->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
                                                     AV_PIX_FMT_FLAG_BITSTREAM));
#if KUZET_X86_SIMD
  const bool stream = streaming && plain_planes && dst_bytes >= kStreamingCopyBytes && cpu_has_avx2();
#else
  const bool stream = false;
  (void)streaming;
#endif
  if (!stream) {
    if (av_image_copy_to_buffer(dst, static_cast<int>(dst_bytes), frame->data, frame->linesize, format, frame->width,
                                frame->height, 1) < 0) {
      throw DecodeError("cannot copy a frame of pixel format " +
                        std::string(desc && desc->name ? desc->name : "?"));
    }
    return;
  }
#if KUZET_X86_SIMD
  // The rows av_image_copy_to_buffer copies: each plane's visible bytes, its chroma planes (1 and 2)
  // with their rows rounded up.
  int row_bytes[4] = {0, 0, 0, 0};
  if (av_image_fill_linesizes(row_bytes, format, frame->width) < 0) throw DecodeError("bad frame geometry");
  int planes = 0;
  for (int c = 0; c < desc->nb_components; ++c) planes = std::max(planes, desc->comp[c].plane + 1);
  uint8_t* out = dst;
  for (int p = 0; p < planes; ++p) {
    const int shift = (p == 1 || p == 2) ? desc->log2_chroma_h : 0;
    const int rows = (frame->height + (1 << shift) - 1) >> shift;
    const size_t n = static_cast<size_t>(row_bytes[p]);
    if (out + n * static_cast<size_t>(rows) > dst + dst_bytes) throw DecodeError("frame larger than its buffer");
    const uint8_t* src = frame->data[p];
    for (int r = 0; r < rows; ++r, out += n, src += frame->linesize[p]) stream_row(out, src, n);
  }
  _mm_sfence();  // streaming stores are weakly ordered: complete them before the buffer is handed out
#endif
}

}  // namespace kuzet::decode
