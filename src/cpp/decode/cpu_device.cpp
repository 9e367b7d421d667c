#include "decode/cpu_device.hpp"
#include "decode/yuv_coeffs.hpp"

#include "decode/colour_fields.hpp"
#include "decode/decode_errors.hpp"
#include "decode/deep_420.hpp"
#include "decode/plane_copy.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace kuzet::decode {

namespace {

// The yuvj* formats are deprecated aliases of yuv* with full range; swscale wants the range given apart.
AVPixelFormat without_jpeg_alias(AVPixelFormat f, bool* full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
    default: return f;
  }
}

bool is_rgb_format(AVPixelFormat f) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
  return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

void deinterleave_rgb(const uint8_t* rgb, size_t pixels, uint8_t* r, uint8_t* g, uint8_t* b) {
  for (size_t i = 0; i < pixels; ++i) {
    r[i] = rgb[3 * i];
    g[i] = rgb[3 * i + 1];
    b[i] = rgb[3 * i + 2];
  }
}

}  // namespace

CpuDevice::~CpuDevice() {
  sws_freeContext(sws_);
  av_freep(&scratch_[0]);
}

void CpuDevice::configure_codec(AVCodecContext* ctx, int threads) {
  ctx->thread_count = threads;  // 0 lets FFmpeg pick one per core
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
}

AVPixelFormat CpuDevice::native_format(const AVFrame* frame) const {
  return static_cast<AVPixelFormat>(frame->format);
}

void CpuDevice::scale(const AVFrame* frame, AVPixelFormat dst_format, uint8_t* const dst[4],
                      const int dst_stride[4]) {
  bool full_range = colour_range(frame->color_range) == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_format = without_jpeg_alias(static_cast<AVPixelFormat>(frame->format), &full_range);
  SwsContext* ctx = sws_getCachedContext(sws_, frame->width, frame->height, src_format, frame->width,
                                         frame->height, dst_format, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!ctx) {
    const char* from = av_get_pix_fmt_name(src_format);
    const char* to = av_get_pix_fmt_name(dst_format);
    throw DecodeError(std::string("cannot convert pixel format ") + (from ? from : "?") + " to " + (to ? to : "?"));
  }
  const int space = sws_colorspace(colour_space(frame->colorspace));
  const int range = full_range ? 1 : 0;
  if (ctx != sws_ || space != applied_space_ || range != applied_range_ || dst_format != applied_dst_) {
    // RGB output is always full range; YUV output keeps the source range (no silent re-ranging).
    const int dst_range = is_rgb_format(dst_format) || dst_format == AV_PIX_FMT_GBRP ? 1 : range;
    const int* table = sws_getCoefficients(space);
    sws_setColorspaceDetails(ctx, table, range, table, dst_range, 0, 1 << 16, 1 << 16);
    applied_space_ = space;
    applied_range_ = range;
    applied_dst_ = dst_format;
  }
  sws_ = ctx;
  if (frame->width % kSafeWidthMultiple == 0) {
    sws_scale(ctx, frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
    return;
  }
  // swscale's SIMD paths write whole blocks of pixels, past the end of a row whose width is not a
  // multiple of the block: convert into padded scratch rows, then copy the exact rows out.
  uint8_t** scratch = scratch_planes(dst_format, frame->width, frame->height);
  sws_scale(ctx, frame->data, frame->linesize, 0, frame->height, scratch, scratch_stride_);
  uint8_t* out[4] = {dst[0], dst[1], dst[2], dst[3]};
  int out_stride[4] = {dst_stride[0], dst_stride[1], dst_stride[2], dst_stride[3]};
  av_image_copy(out, out_stride, const_cast<const uint8_t**>(scratch), scratch_stride_, dst_format, frame->width,
                frame->height);
}

uint8_t** CpuDevice::scratch_planes(AVPixelFormat format, int width, int height) {
  if (format != scratch_format_ || width != scratch_width_ || height != scratch_height_) {
    av_freep(&scratch_[0]);
    const int padded = (width + 2 * kSafeWidthMultiple) & ~(kSafeWidthMultiple - 1);
    if (av_image_alloc(scratch_, scratch_stride_, padded, height, format, 64) < 0) {
      throw DecodeError("out of memory allocating a colour-conversion buffer");
    }
    scratch_format_ = format;
    scratch_width_ = width;
    scratch_height_ = height;
  }
  return scratch_;
}

bool CpuDevice::own_rgb_converter_applies(const AVFrame* frame) const {
  if (swscale_for_rgb_) return false;
  const auto format = static_cast<AVPixelFormat>(frame->format);
  // swscale serves 8-bit 4:2:0 planes of even height with the unscaled path whose arithmetic ours copies;
  // other frames (odd height, NV12, 10-bit, 4:2:2, 4:4:4, ...) keep swscale, so no output changes.
  return (format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P) && frame->height % 2 == 0;
}

Yuv420Frame CpuDevice::yuv420_planes(const AVFrame* frame) {
  Yuv420Frame src;
  src.y = frame->data[0];
  src.u = frame->data[1];
  src.v = frame->data[2];
  src.y_stride = frame->linesize[0];
  src.u_stride = frame->linesize[1];
  src.v_stride = frame->linesize[2];
  src.width = frame->width;
  src.height = frame->height;
  src.nv12 = frame->format == AV_PIX_FMT_NV12;
  return src;
}

void CpuDevice::convert_to_rgb_own(const AVFrame* frame, RgbPacking packing, uint8_t* dst) const {
  const auto format = static_cast<AVPixelFormat>(frame->format);
  const Yuv420Frame src = yuv420_planes(frame);
  const YuvCoeffs coeffs =
      yuv_coeffs(colour_space(frame->colorspace), is_full_range(colour_range(frame->color_range), format));
  yuv420_to_rgb(src, coeffs, packing, dst, 0, frame->height, simd_level_);
}

bool CpuDevice::convert_deep_420(const AVFrame* frame, Layout layout, uint8_t* dst) {
  const int bits = deep_420_bits(static_cast<AVPixelFormat>(frame->format));
  if (bits == 0 || layout == Layout::Native) return false;
  if (layout == Layout::Yuv420p || layout == Layout::Nv12) {
    reduce_deep_420(frame, bits, layout == Layout::Nv12, dst);
    return true;
  }
  // RGB: our 8-bit converter on the reduced planes, as the GPU does (where swscale would take its unscaled
  // 8-bit path: even heights; the rest keeps swscale on the deep frame).
  if (swscale_for_rgb_ || frame->height % 2 != 0) return false;
  const int w = frame->width, h = frame->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
  reduced_.resize(static_cast<size_t>(w) * h + 2 * static_cast<size_t>(cw) * ch);
  reduce_deep_420(frame, bits, false, reduced_.data());
  Yuv420Frame src;
  src.y = reduced_.data();
  src.u = src.y + static_cast<size_t>(w) * h;
  src.v = src.u + static_cast<size_t>(cw) * ch;
  src.y_stride = w;
  src.u_stride = src.v_stride = cw;
  src.width = w;
  src.height = h;
  const RgbPacking packing = layout == Layout::Rgb ? RgbPacking::Rgb
                             : layout == Layout::Bgr ? RgbPacking::Bgr
                                                     : RgbPacking::Planar;
  const YuvCoeffs coeffs =
      yuv_coeffs(colour_space(frame->colorspace),
                 is_full_range(colour_range(frame->color_range), static_cast<AVPixelFormat>(frame->format)));
  yuv420_to_rgb(src, coeffs, packing, dst, 0, h, simd_level_);
  return true;
}

void CpuDevice::convert(const AVFrame* frame, Layout layout, uint8_t* dst) {
  if (convert_deep_420(frame, layout, dst)) return;
  const int w = frame->width;
  const int h = frame->height;
  const auto src_format = static_cast<AVPixelFormat>(frame->format);
  const size_t plane = static_cast<size_t>(w) * static_cast<size_t>(h);
  switch (layout) {
    case Layout::Rgb:
    case Layout::Bgr: {
      if (own_rgb_converter_applies(frame)) {
        convert_to_rgb_own(frame, layout == Layout::Rgb ? RgbPacking::Rgb : RgbPacking::Bgr, dst);
        return;
      }
      uint8_t* planes[4] = {dst, nullptr, nullptr, nullptr};
      const int strides[4] = {w * 3, 0, 0, 0};
      scale(frame, layout == Layout::Rgb ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_BGR24, planes, strides);
      return;
    }
    case Layout::RgbPlanar: {
      if (own_rgb_converter_applies(frame)) {  // straight into the three planes
        convert_to_rgb_own(frame, RgbPacking::Planar, dst);
        return;
      }
      // Through packed RGB, so planar output has the very same pixels as "rgb" (swscale's planar-RGB
      // path interpolates chroma differently), then split into the R, G, B planes.
      if (packed_.size() < plane * 3) packed_.resize(plane * 3);
      uint8_t* planes[4] = {packed_.data(), nullptr, nullptr, nullptr};
      const int strides[4] = {w * 3, 0, 0, 0};
      scale(frame, AV_PIX_FMT_RGB24, planes, strides);
      deinterleave_rgb(packed_.data(), plane, dst, dst + plane, dst + 2 * plane);
      return;
    }
    case Layout::Yuv420p:
    case Layout::Nv12:
    case Layout::Native: {
      AVPixelFormat want = layout == Layout::Yuv420p ? AV_PIX_FMT_YUV420P
                           : layout == Layout::Nv12  ? AV_PIX_FMT_NV12
                                                     : src_format;
      bool ignored = false;
      const size_t bytes = static_cast<size_t>(av_image_get_buffer_size(want, w, h, 1));
      if (without_jpeg_alias(src_format, &ignored) == want || src_format == want) {
        // Same format: a plain plane copy keeps the output bit-exact.
        copy_planes_packed(frame, dst, bytes);
        return;
      }
      uint8_t* planes[4] = {nullptr, nullptr, nullptr, nullptr};
      int strides[4] = {0, 0, 0, 0};
      av_image_fill_arrays(planes, strides, dst, want, w, h, 1);
      scale(frame, want, planes, strides);
      return;
    }
  }
}

}  // namespace kuzet::decode
