#include "decode/nvdec_support.hpp"

#include <dlfcn.h>

#include <mutex>

#include "common/cuda_runtime_info.hpp"
#include "decode/nvdec_sessions.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace kuzet::decode {

namespace {

bool has_cuda_hw_config(const AVCodec* codec) {
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* config = avcodec_get_hw_config(codec, i);
    if (!config) return false;
    if (config->device_type == AV_HWDEVICE_TYPE_CUDA && (config->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX)) {
      return true;
    }
  }
}

// 4:2:0 at 8, 10 or 12 bits: what FFmpeg's NVDEC path can output (NV12, P010, P016).
bool nvdec_pixel_format(AVPixelFormat f) {
  switch (f) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_NV12:
    case AV_PIX_FMT_YUV420P10LE:
    case AV_PIX_FMT_YUV420P12LE:
    case AV_PIX_FMT_P010LE:
    case AV_PIX_FMT_P016LE:
    case AV_PIX_FMT_NONE:  // not known before decoding: let NVDEC try
      return true;
    default:
      return false;
  }
}

#ifdef KUZET_WITH_CUDA
// NVDEC lives in the driver's libnvcuvid, which containers only get with NVIDIA_DRIVER_CAPABILITIES=video.
std::string nvcuvid_problem() {
  void* lib = dlopen("libnvcuvid.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    return std::string("the NVDEC driver library libnvcuvid.so.1 cannot be loaded (") + (err ? err : "unknown") +
           "); in a container, NVIDIA_DRIVER_CAPABILITIES must include 'video'";
  }
  dlclose(lib);
  return "";
}

// What every device needs (a CUDA device, FFmpeg decoders with NVDEC, the driver's NVDEC library); no session
// is started, so that a reader on cuda:N never makes a context on GPU 0: its own session on N is the rest.
NvdecStatus probe_prerequisites() {
  NvdecStatus s;
  s.codecs = codecs_with_cuda_hw_config();
  const CudaRuntimeInfo cuda = query_cuda_runtime();
  s.device_count = static_cast<int>(cuda.devices.size());
  if (cuda.devices.empty()) {
    s.reason = "no usable CUDA device (" + (cuda.error.empty() ? std::string("none found") : cuda.error) + ")";
    return s;
  }
  if (s.codecs.empty()) {
    s.reason = "this FFmpeg build has no decoder with CUDA (NVDEC) hardware support";
    return s;
  }
  if (std::string why = nvcuvid_problem(); !why.empty()) {
    s.reason = why;
    return s;
  }
  s.available = true;
  return s;
}

// The prerequisites, then a session on device 0 (what device "auto" and nvdec_info() use).
NvdecStatus probe_device_0(NvdecStatus s) {
  if (!s.available) return s;
  try {
    NvdecSessionLease probe_session = acquire_nvdec_session(0);  // returned to the pool for the first reader
  } catch (const std::exception& e) {
    s.available = false;
    s.reason = e.what();
  }
  return s;
}
#else
NvdecStatus probe_prerequisites() {
  NvdecStatus s;
  s.codecs = codecs_with_cuda_hw_config();
  s.reason = "kuzet was built without CUDA, so NVDEC decoding is unavailable";
  return s;
}
NvdecStatus probe_device_0(NvdecStatus s) { return s; }
#endif

}  // namespace

std::vector<std::string> codecs_with_cuda_hw_config() {
  std::vector<std::string> names;
  void* it = nullptr;
  while (const AVCodec* codec = av_codec_iterate(&it)) {
    // Native decoders with an NVDEC hwaccel; not the *_cuvid wrappers (AV_CODEC_CAP_HARDWARE), which kuzet
    // does not use (avcodec_find_decoder picks the native decoder).
    if (av_codec_is_decoder(codec) && !(codec->capabilities & AV_CODEC_CAP_HARDWARE) && has_cuda_hw_config(codec)) {
      names.emplace_back(codec->name);
    }
  }
  return names;
}

const AVCodec* nvdec_decoder_for(AVCodecID id) {
  const AVCodec* preferred = avcodec_find_decoder(id);
  if (preferred && has_cuda_hw_config(preferred)) return preferred;
  void* it = nullptr;
  while (const AVCodec* codec = av_codec_iterate(&it)) {
    if (codec->id == id && av_codec_is_decoder(codec) && !(codec->capabilities & AV_CODEC_CAP_HARDWARE) &&
        has_cuda_hw_config(codec)) {
      return codec;
    }
  }
  return nullptr;
}

const NvdecStatus& nvdec_status() {
  static std::once_flag once;
  static NvdecStatus status;
  std::call_once(once, [] { status = probe_device_0(nvdec_prerequisites()); });
  return status;
}

const NvdecStatus& nvdec_prerequisites() {
  static std::once_flag once;
  static NvdecStatus status;
  std::call_once(once, [] { status = probe_prerequisites(); });
  return status;
}

std::string nvdec_cannot_decode(const AVCodecContext* ctx) {
  const AVCodec* codec = ctx->codec ? ctx->codec : avcodec_find_decoder(ctx->codec_id);
  if (!codec || !has_cuda_hw_config(codec)) {
    return std::string("NVDEC cannot decode codec '") + avcodec_get_name(ctx->codec_id) +
           "' (no CUDA hardware decoder for it in this FFmpeg)";
  }
  const char* format = av_get_pix_fmt_name(ctx->pix_fmt);
  if (!nvdec_pixel_format(ctx->pix_fmt)) {
    return std::string("NVDEC decoding here supports 4:2:0 video at 8-12 bits, this stream is ") +
           (format ? format : "?");
  }
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(ctx->pix_fmt);
  const bool high_bit_depth = desc && desc->comp[0].depth > 8;
  if (high_bit_depth && ctx->codec_id != AV_CODEC_ID_HEVC && ctx->codec_id != AV_CODEC_ID_VP9 &&
      ctx->codec_id != AV_CODEC_ID_AV1) {
    return std::string("NVDEC decodes ") + avcodec_get_name(ctx->codec_id) + " at 8 bits only, this stream is " +
           (format ? format : "?");
  }
  return "";
}

}  // namespace kuzet::decode
