#include "decode/yuv_coeffs.hpp"

#include <algorithm>
#include <cstdint>

extern "C" {
#include <libswscale/swscale.h>
}

namespace kuzet::decode {

namespace {

int32_t round_to_int16(int64_t f) {
  const int64_t r = (f + (1 << 15)) >> 16;
  return static_cast<int32_t>(std::clamp<int64_t>(r, -0x8000, 0x7FFF));
}

}  // namespace

int sws_colorspace(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601;  // BT470BG, SMPTE170M, unspecified
  }
}

YuvCoeffs yuv_coeffs(AVColorSpace space, bool full_range) {
  const int* table = sws_getCoefficients(sws_colorspace(space));  // {crv, cbu, cgu, cgv}
  int64_t crv = table[0], cbu = table[1], cgu = -table[2], cgv = -table[3];
  int64_t cy = 1 << 16, oy = 0;
  if (!full_range) {
    cy = (cy * 255) / 219;
    oy = 16 << 16;
  } else {
    crv = (crv * 224) / 255;
    cbu = (cbu * 224) / 255;
    cgu = (cgu * 224) / 255;
    cgv = (cgv * 224) / 255;
  }
  YuvCoeffs c{};
  c.y_coeff = round_to_int16(cy * (1 << 13));
  c.y_offset = round_to_int16(oy * (1 << 3));
  c.vr = round_to_int16(crv * (1 << 13));
  c.ub = round_to_int16(cbu * (1 << 13));
  c.ug = round_to_int16(cgu * (1 << 13));
  c.vg = round_to_int16(cgv * (1 << 13));
  return c;
}

bool is_full_range(AVColorRange range, AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P: return true;
    default: return range == AVCOL_RANGE_JPEG;
  }
}

}  // namespace kuzet::decode
