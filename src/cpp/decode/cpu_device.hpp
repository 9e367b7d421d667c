// CPU device: software decoding with FFmpeg's frame threads. 4:2:0 frames deeper than 8 bits are first
// reduced to 8 bits as the GPU path does (deep_420.hpp). Colour conversion of 8-bit 4:2:0 frames of
// even height to RGB uses kuzet's own SIMD converter (cpu_yuv_to_rgb.hpp: swscale's arithmetic, bit for bit,
// measured faster - see bench/README.md, Decode); everything else uses a cached swscale context that
// writes straight into the caller's buffer. Both honour the frame's colour matrix and range.
#pragma once
#include <vector>

#include "decode/cpu_yuv_to_rgb.hpp"
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

  // Test and benchmark hook: convert to RGB with swscale only, or with our converter at a given SIMD level.
  void use_swscale_for_rgb(bool swscale) { swscale_for_rgb_ = swscale; }
  void set_simd_level(SimdLevel level) { simd_level_ = level; }
  // The planes of an 8-bit 4:2:0 frame (yuv420p/yuvj420p, or NV12) for our converter.
  static Yuv420Frame yuv420_planes(const AVFrame* frame);

 private:
  // Whether our converter serves this frame: where swscale would take its unscaled 4:2:0 -> RGB path.
  bool own_rgb_converter_applies(const AVFrame* frame) const;
  void convert_to_rgb_own(const AVFrame* frame, RgbPacking packing, uint8_t* dst) const;
  // 4:2:0 frames deeper than 8 bits, as the GPU path converts them (deep_420.hpp); false: not served here.
  bool convert_deep_420(const AVFrame* frame, Layout layout, uint8_t* dst);

  // Converts with swscale into planes `dst`/`dst_stride` of pixel format `dst_format`.
  void scale(const AVFrame* frame, AVPixelFormat dst_format, uint8_t* const dst[4], const int dst_stride[4]);

  uint8_t** scratch_planes(AVPixelFormat format, int width, int height);

  // Widths that are a multiple of this are converted straight into the output buffer.
  static constexpr int kSafeWidthMultiple = 32;

  bool swscale_for_rgb_ = false;
  SimdLevel simd_level_ = SimdLevel::Auto;
  SwsContext* sws_ = nullptr;
  std::vector<uint8_t> packed_;  // packed RGB on the way to planar RGB
  std::vector<uint8_t> reduced_;  // a deep 4:2:0 frame reduced to 8-bit yuv420p on the way to RGB
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
