// Output layouts and the geometry (numpy shape and byte size) of one converted frame.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace kuzet::decode {

enum class Layout {
  Rgb,        // (H, W, 3) uint8
  Bgr,        // (H, W, 3) uint8
  RgbPlanar,  // (3, H, W) uint8
  Yuv420p,    // flat uint8: Y plane, then U, then V (tightly packed, chroma (W+1)/2 x (H+1)/2)
  Nv12,       // flat uint8: Y plane, then interleaved UV
  Native,     // flat uint8: the decoder's own pixel format, planes tightly packed (bit-exact output)
};

Layout parse_layout(const std::string& name);  // throws InvalidArgument
const char* layout_name(Layout layout);

struct FrameGeometry {
  std::vector<size_t> shape;  // numpy shape of one frame
  size_t bytes = 0;
};

FrameGeometry frame_geometry(Layout layout, int width, int height, AVPixelFormat native_format);

}  // namespace kuzet::decode
