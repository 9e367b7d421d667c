// The device-specific half of decoding (torchcodec-style): it configures the codec context before it is
// opened (e.g. a CUDA device would attach a hw_device_ctx for NVDEC) and turns a decoded AVFrame into the
// requested output layout in memory the caller owns. The decoder core (demux, decode, seek) is shared.
#pragma once
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include "decode/layout.hpp"

namespace kuzet::decode {

class DeviceInterface {
 public:
  virtual ~DeviceInterface() = default;
  virtual std::string name() const = 0;
  // Why this device cannot decode the stream in `ctx` (codec parameters copied, not yet opened), or "".
  virtual std::string cannot_decode(const AVCodecContext* /*ctx*/) const { return ""; }
  // Called after the codec parameters are copied into `ctx` and before avcodec_open2.
  virtual void configure_codec(AVCodecContext* ctx, int threads) = 0;
  // The pixel format the 'native' layout exposes for this frame.
  virtual AVPixelFormat native_format(const AVFrame* frame) const = 0;
  // Converts `frame` into `dst`, which holds geometry(frame, layout).bytes.
  virtual void convert(const AVFrame* frame, Layout layout, uint8_t* dst) = 0;
  // What convert() writes for `frame`: the picture less the stream's cropping. FFmpeg crops a hardware frame
  // only on the right and bottom (it cannot move its data pointers) and leaves crop_left/crop_top to the
  // converter; software frames come fully cropped, both 0. Sizing host buffers by frame->width/height would
  // shear the rows of an NVDEC frame with a left or top crop.
  FrameGeometry geometry(const AVFrame* frame, Layout layout) const {
    return frame_geometry(layout, frame->width - static_cast<int>(frame->crop_left),
                          frame->height - static_cast<int>(frame->crop_top), native_format(frame));
  }
};

// Creates the interface for "cpu", "cuda[:N]" (throws DeviceUnavailable where NVDEC is unusable) or "auto"
// (CUDA device 0 when NVDEC is usable, else the CPU). With `nvdec_fallback`, "cuda[:N]" behaves as "auto" does
// on that GPU: the CPU where NVDEC is unusable, and software decoding of the frames NVDEC turns down.
std::unique_ptr<DeviceInterface> make_device(const std::string& device, bool nvdec_fallback = false);
// N for "cuda:N" (0 for "cuda"), -1 for any other device name.
int cuda_device_index(const std::string& device);

}  // namespace kuzet::decode
