#include "decode/cuda_device.hpp"

#include "decode/decode_errors.hpp"

#ifdef KUZET_WITH_CUDA
#include <cuda_runtime.h>

#include "common/cuda_device_guard.hpp"
#include "decode/colour_fields.hpp"
#include "decode/cpu_device.hpp"
#include "decode/cuda/convert_kernels.hpp"
#include "decode/frame_buffer.hpp"
#include "decode/nvdec_sessions.hpp"
#include "decode/nvdec_support.hpp"
#include "decode/yuv_coeffs.hpp"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}
#endif

namespace kuzet::decode {

#ifdef KUZET_WITH_CUDA

namespace {

void check_cuda(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  throw DecodeError(what + ": " + cudaGetErrorString(err));
}

class CudaDevice final : public DeviceInterface {
 public:
  CudaDevice(int index, bool strict) : index_(index), strict_(strict), session_(acquire_nvdec_session(index)) {}

  std::string name() const override { return "cuda:" + std::to_string(index_); }

  std::string cannot_decode(const AVCodecContext* ctx) const override { return nvdec_cannot_decode(ctx); }

  void configure_codec(AVCodecContext* ctx, int threads) override {
    ctx->hw_device_ctx = av_buffer_ref(session_.get().hw_device);
    if (!ctx->hw_device_ctx) throw DecodeError(name() + ": out of memory");
    ctx->opaque = this;
    ctx->get_format = &CudaDevice::pick_format;
    // NVDEC decodes; FFmpeg only parses, in one thread (get_format then runs on a known thread).
    (void)threads;
    ctx->thread_count = 1;
  }

  AVPixelFormat native_format(const AVFrame* frame) const override {
    if (frame->format == AV_PIX_FMT_CUDA && frame->hw_frames_ctx) {
      return reinterpret_cast<const AVHWFramesContext*>(frame->hw_frames_ctx->data)->sw_format;
    }
    return static_cast<AVPixelFormat>(frame->format);
  }

  void convert(const AVFrame* frame, Layout layout, uint8_t* dst) override {
    if (frame->format != AV_PIX_FMT_CUDA) {
      refuse_software_frame_if_strict();
      cpu_.convert(frame, layout, dst);
      return;
    }
    const FrameGeometry geo = frame_geometry(layout, visible_width(frame), visible_height(frame),
                                             native_format(frame));
    CudaDeviceGuard guard(index_);
    check_cuda(guard.result(), name() + ": cannot select the device");
    if (!scratch_ || scratch_->bytes() < geo.bytes) {
      scratch_.reset();
      scratch_ = std::make_shared<DeviceBuffer>(geo.bytes, index_, session_.get().stream);
    }
    auto* scratch = static_cast<uint8_t*>(scratch_->data());
    convert_into(frame, layout, scratch);
    const auto stream = static_cast<cudaStream_t>(session_.get().stream);
    check_cuda(cudaMemcpyAsync(dst, scratch, geo.bytes, cudaMemcpyDeviceToHost, stream),
               name() + ": copying a frame to the host failed");
    check_cuda(cudaStreamSynchronize(stream), name() + ": frame conversion failed");
  }

  std::shared_ptr<DeviceArray> convert_to_gpu(const AVFrame* frame, Layout layout) {
    const FrameGeometry geo = frame_geometry(layout, visible_width(frame), visible_height(frame),
                                             native_format(frame));
    void* stream = session_.get().stream;
    CudaDeviceGuard guard(index_);
    check_cuda(guard.result(), name() + ": cannot select the device");
    auto buffer = std::make_shared<DeviceBuffer>(geo.bytes, index_, stream);
    if (frame->format == AV_PIX_FMT_CUDA) {
      convert_into(frame, layout, static_cast<uint8_t*>(buffer->data()));
      check_cuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), name() + ": frame conversion failed");
    } else {
      refuse_software_frame_if_strict();
      FrameBuffer host = allocate_frame_buffer(geo.bytes);
      cpu_.convert(frame, layout, host.get());
      copy_host_to_device(buffer->data(), host.get(), geo.bytes, stream);
    }
    std::vector<int64_t> shape(geo.shape.begin(), geo.shape.end());
    return std::make_shared<DeviceArray>(std::move(buffer), std::move(shape));
  }

 private:
  // FFmpeg offers AV_PIX_FMT_CUDA when NVDEC can take the stream; if NVDEC then fails to start (profile,
  // size or driver limits) FFmpeg asks again without it, and the stream is decoded in software.
  static AVPixelFormat pick_format(AVCodecContext* ctx, const AVPixelFormat* formats) {
    auto* self = static_cast<CudaDevice*>(ctx->opaque);
    AVPixelFormat software = AV_PIX_FMT_NONE;
    for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f) {
      if (*f == AV_PIX_FMT_CUDA && !self->nvdec_refused_) return AV_PIX_FMT_CUDA;
      const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(*f);
      if (software == AV_PIX_FMT_NONE && desc && !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL)) software = *f;
    }
    if (!self->nvdec_refused_) {
      self->nvdec_refused_ = true;
      try {  // FFmpeg's C callback: nothing may be thrown through it
        const char* sw = av_get_pix_fmt_name(ctx->sw_pix_fmt);
        const char* profile = avcodec_profile_name(ctx->codec_id, ctx->profile);
        self->refusal_ = std::string("NVDEC cannot decode this ") + avcodec_get_name(ctx->codec_id) + " stream (" +
                         (profile ? profile : "unknown profile") + ", " + (sw ? sw : "?") + ", " +
                         std::to_string(ctx->coded_width) + "x" + std::to_string(ctx->coded_height) + ")";
      } catch (...) {
        self->refusal_.clear();  // the generic reason is given instead
      }
    }
    return software;
  }

  void refuse_software_frame_if_strict() const {
    if (strict_) throw DeviceUnavailable(name() + ": " + (refusal_.empty() ? "NVDEC did not decode this frame" : refusal_));
  }

  // The picture less the stream's cropping. FFmpeg crops a hardware frame only on the right and bottom (it
  // cannot move its data pointers) and leaves crop_left/crop_top set; software frames come fully cropped
  // (AV_CODEC_FLAG_UNALIGNED, decoder.cpp) with both at 0.
  static int visible_width(const AVFrame* frame) { return frame->width - static_cast<int>(frame->crop_left); }
  static int visible_height(const AVFrame* frame) { return frame->height - static_cast<int>(frame->crop_top); }

  // Queues the conversion on the session's stream; the caller has made this device current.
  void convert_into(const AVFrame* frame, Layout layout, uint8_t* dst) {
    const AVPixelFormat sw = native_format(frame);
    if (sw != AV_PIX_FMT_NV12 && sw != AV_PIX_FMT_P010LE && sw != AV_PIX_FMT_P016LE) {
      const char* fmt = av_get_pix_fmt_name(sw);
      throw DecodeError(name() + ": NVDEC produced frames in " + (fmt ? fmt : "?") + ", which kuzet cannot convert");
    }
    cuda::SemiPlanarFrame src;
    src.sixteen_bit = sw != AV_PIX_FMT_NV12;
    // The top/left cropping FFmpeg leaves on hardware frames (visible_width), applied as it applies it to
    // software frames: chroma moves by half the luma rows/columns, rounded down.
    const std::size_t bytes = src.sixteen_bit ? 2 : 1, top = frame->crop_top, left = frame->crop_left;
    src.y = frame->data[0] + top * static_cast<std::size_t>(frame->linesize[0]) + left * bytes;
    src.uv = frame->data[1] + (top / 2) * static_cast<std::size_t>(frame->linesize[1]) + (left / 2) * 2 * bytes;
    src.y_pitch = frame->linesize[0];
    src.uv_pitch = frame->linesize[1];
    src.width = visible_width(frame);
    src.height = visible_height(frame);
    void* stream = session_.get().stream;
    switch (layout) {
      case Layout::Rgb:
      case Layout::Bgr:
      case Layout::RgbPlanar: {
        const YuvCoeffs coeffs =
            yuv_coeffs(colour_space(frame->colorspace), is_full_range(colour_range(frame->color_range), sw));
        const auto out = layout == Layout::Rgb   ? cuda::RgbOutput::Rgb
                         : layout == Layout::Bgr ? cuda::RgbOutput::Bgr
                                                 : cuda::RgbOutput::RgbPlanar;
        cuda::convert_to_rgb(src, coeffs, out, dst, stream);
        return;
      }
      case Layout::Nv12:
        if (!src.sixteen_bit) {
          cuda::copy_semi_planar(src, dst, stream);
        } else {
          cuda::convert_to_yuv420(src, true, dst, stream);
        }
        return;
      case Layout::Yuv420p:
        cuda::convert_to_yuv420(src, false, dst, stream);
        return;
      case Layout::Native:
        cuda::copy_semi_planar(src, dst, stream);
        return;
    }
  }

  int index_;
  bool strict_;
  NvdecSessionLease session_;
  CpuDevice cpu_;                          // converts the frames NVDEC turned down (device="auto" only)
  std::shared_ptr<DeviceBuffer> scratch_;  // GPU staging for conversions to host memory
  bool nvdec_refused_ = false;
  std::string refusal_;
};

}  // namespace

std::unique_ptr<DeviceInterface> make_cuda_device(int index, bool strict) {
  const NvdecStatus& status = nvdec_prerequisites();  // the session on `index` (below) is the rest of the check
  if (!status.available) throw DeviceUnavailable("cuda:" + std::to_string(index) + ": " + status.reason);
  return std::make_unique<CudaDevice>(index, strict);
}

std::shared_ptr<DeviceArray> convert_on_gpu(DeviceInterface& device, const AVFrame* frame, Layout layout) {
  auto* cuda = dynamic_cast<CudaDevice*>(&device);
  if (!cuda) {
    throw DeviceUnavailable("frames of a reader on device '" + device.name() +
                            "' are not on the GPU; open the reader with device='cuda'");
  }
  return cuda->convert_to_gpu(frame, layout);
}

std::shared_ptr<DeviceArray> upload_to_gpu(const uint8_t* host, const FrameGeometry& geometry, int device_index) {
  CudaDeviceGuard guard(device_index);
  check_cuda(guard.result(), "cuda:" + std::to_string(device_index) + ": cannot select the device");
  auto buffer = std::make_shared<DeviceBuffer>(geometry.bytes, device_index, nullptr);
  copy_host_to_device(buffer->data(), host, geometry.bytes, nullptr);  // on this device's legacy stream
  std::vector<int64_t> shape(geometry.shape.begin(), geometry.shape.end());
  return std::make_shared<DeviceArray>(std::move(buffer), std::move(shape));
}

#else  // CPU-only build

std::unique_ptr<DeviceInterface> make_cuda_device(int index, bool) {
  throw DeviceUnavailable("cuda:" + std::to_string(index) +
                          ": kuzet was built without CUDA, so NVDEC decoding is unavailable");
}

std::shared_ptr<DeviceArray> convert_on_gpu(DeviceInterface&, const AVFrame*, Layout) {
  throw DeviceUnavailable("kuzet was built without CUDA, so frames cannot be delivered in GPU memory");
}

std::shared_ptr<DeviceArray> upload_to_gpu(const uint8_t*, const FrameGeometry&, int) {
  throw DeviceUnavailable("kuzet was built without CUDA, so frames cannot be delivered in GPU memory");
}

#endif

}  // namespace kuzet::decode
