// What NVDEC decoding needs and whether this build and machine have it: a CUDA build, a CUDA device,
// the NVDEC driver library, and FFmpeg decoders with a CUDA hardware configuration.
#pragma once
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace kuzet::decode {

struct NvdecStatus {
  bool available = false;
  std::string reason;                // why not, when not available
  std::vector<std::string> codecs;   // FFmpeg decoders with a CUDA hw config (e.g. "h264", "hevc")
  int device_count = 0;
};

// Checked once (opening a CUDA device context costs hundreds of ms), then cached; includes starting a session
// on device 0.
const NvdecStatus& nvdec_status();

// The same without a session (nothing is started on any device): what a reader on a given device checks
// before starting its own session there.
const NvdecStatus& nvdec_prerequisites();

// FFmpeg decoders that can output CUDA frames through a CUDA hw device context.
std::vector<std::string> codecs_with_cuda_hw_config();

// The decoder to use for `codec` on NVDEC: FFmpeg's default one when it has a CUDA hw config, else another
// decoder of that codec that has one (AV1: the default, libdav1d, has none; FFmpeg's native av1 decoder
// does), else nullptr. *_cuvid wrappers are never chosen.
const AVCodec* nvdec_decoder_for(AVCodecID codec);

// Why NVDEC cannot decode the stream described by `ctx` (codec parameters already copied), or "".
std::string nvdec_cannot_decode(const AVCodecContext* ctx);

}  // namespace kuzet::decode
