// CPU device: software decoding with FFmpeg's frame threads, colour conversion with a cached swscale
// context that writes straight into the caller's buffer and honours the frame's colour matrix and range.
#pragma once
#include <vector>

#include "decode/device_interface.hpp"

struct SwsContext;

namespace kuzet::decode {

class CpuDevice final : public DeviceInterface {
 public:
  CpuDevice() = default;
  ~CpuDevice() override;
  CpuDevice(const CpuDevice&) = delete;
  CpuDevice& operator=(const CpuDevice&) = delete;

  std::string name() const override { return "cpu"; }
  void configure_codec(AVCodecContext* ctx, int threads) override;
  AVPixelFormat native_format(const AVFrame* frame) const override;
  void convert(const AVFrame* frame, Layout layout, uint8_t* dst) override;

 private:
  // Converts with swscale into planes `dst`/`dst_stride` of pixel format `dst_format`.
  void scale(const AVFrame* frame, AVPixelFormat dst_format, uint8_t* const dst[4], const int dst_stride[4]);

  uint8_t** scratch_planes(AVPixelFormat format, int width, int height);

  // Widths that are a multiple of this are converted straight into the output buffer.
  static constexpr int kSafeWidthMultiple = 32;

  SwsContext* sws_ = nullptr;
  std::vector<uint8_t> packed_;  // packed RGB on the way to planar RGB
  uint8_t* scratch_[4] = {nullptr, nullptr, nullptr, nullptr};
  int scratch_stride_[4] = {0, 0, 0, 0};
  AVPixelFormat scratch_format_ = AV_PIX_FMT_NONE;
  int scratch_width_ = 0;
  int scratch_height_ = 0;
  // The colour details last applied to sws_ (swscale keeps them across sws_getCachedContext hits).
  int applied_space_ = -1;
  int applied_range_ = -1;
  AVPixelFormat applied_dst_ = AV_PIX_FMT_NONE;
};

}  // namespace kuzet::decode
