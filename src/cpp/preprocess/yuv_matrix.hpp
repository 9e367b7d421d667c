// The float YUV -> RGB matrix of an NV12 source, from the names the decoder reports in its metadata.
#pragma once
#include <string>

#include "preprocess/yuv_pixel.hpp"

namespace kuzet::vision {

// color_space: "bt601" or "bt709", or any FFmpeg colour-space name a VideoReader reports (VideoMetadata
// .color_space: "bt470bg", "smpte170m", "bt709", "bt2020nc", "unknown" = BT.601 like the decoder, ...).
// full_range: samples use 0..255 (JPEG / "pc" range, yuvj formats) rather than 16..235.
// Throws InvalidArgument (naming `where`) for a name it does not know.
YuvToRgb yuv_matrix(const std::string& color_space, bool full_range, const std::string& where);

}  // namespace kuzet::vision
