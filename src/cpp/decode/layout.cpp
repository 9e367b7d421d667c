#include "decode/layout.hpp"

#include "common/errors.hpp"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace kuzet::decode {

Layout parse_layout(const std::string& name) {
  if (name == "rgb") return Layout::Rgb;
  if (name == "bgr") return Layout::Bgr;
  if (name == "rgb_planar") return Layout::RgbPlanar;
  if (name == "yuv420p") return Layout::Yuv420p;
  if (name == "nv12") return Layout::Nv12;
  if (name == "native") return Layout::Native;
  throw InvalidArgument("layout must be one of 'rgb', 'bgr', 'rgb_planar', 'yuv420p', 'nv12', 'native', got '" +
                        name + "'");
}

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::Rgb: return "rgb";
    case Layout::Bgr: return "bgr";
    case Layout::RgbPlanar: return "rgb_planar";
    case Layout::Yuv420p: return "yuv420p";
    case Layout::Nv12: return "nv12";
    case Layout::Native: return "native";
  }
  return "?";
}

FrameGeometry frame_geometry(Layout layout, int width, int height, AVPixelFormat native_format) {
  const auto w = static_cast<size_t>(width);
  const auto h = static_cast<size_t>(height);
  FrameGeometry g;
  switch (layout) {
    case Layout::Rgb:
    case Layout::Bgr:
      g.shape = {h, w, 3};
      g.bytes = h * w * 3;
      return g;
    case Layout::RgbPlanar:
      g.shape = {3, h, w};
      g.bytes = h * w * 3;
      return g;
    case Layout::Yuv420p:
    case Layout::Nv12:
      g.bytes = static_cast<size_t>(
          av_image_get_buffer_size(layout == Layout::Nv12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P, width, height, 1));
      g.shape = {g.bytes};
      return g;
    case Layout::Native: {
      const int n = av_image_get_buffer_size(native_format, width, height, 1);
      if (n < 0) throw InvalidArgument("the decoder's pixel format has no packed 'native' layout");
      g.bytes = static_cast<size_t>(n);
      g.shape = {g.bytes};
      return g;
    }
  }
  return g;
}

}  // namespace kuzet::decode
