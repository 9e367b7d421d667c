// The YUV -> RGB coefficients for a frame's colour space and range, derived exactly as swscale does
// (ff_yuv2rgb_c_init_tables with default brightness/contrast/saturation) from swscale's own tables.
#pragma once
extern "C" {
#include <libavutil/pixfmt.h>
}

#include "decode/cuda/yuv_to_rgb_math.hpp"

namespace kuzet::decode {

// swscale's matrix (SWS_CS_*) for a stream colour space; unspecified follows FFmpeg's default, BT.601.
// The CPU device hands it to swscale and the CUDA kernels derive their coefficients from it, so both agree.
int sws_colorspace(AVColorSpace space);

YuvCoeffs yuv_coeffs(AVColorSpace space, bool full_range);

// Whether the frame's samples use the full 0-255 range (JPEG range, or a yuvj* pixel format).
bool is_full_range(AVColorRange range, AVPixelFormat format);

}  // namespace kuzet::decode
