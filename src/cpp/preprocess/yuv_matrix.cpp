#include "preprocess/yuv_matrix.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "common/errors.hpp"
#include "decode/yuv_coeffs.hpp"

namespace kuzet::vision {

namespace {

AVColorSpace parse_space(const std::string& name, const std::string& where) {
  if (name == "bt601") return AVCOL_SPC_SMPTE170M;
  if (name == "unknown" || name == "unspecified") return AVCOL_SPC_UNSPECIFIED;
  const int space = av_color_space_from_name(name.c_str());
  if (space < 0)
    throw InvalidArgument(where + ": color_space '" + name +
                          "' is not a colour space (use 'bt601', 'bt709' or the reader's metadata.color_space)");
  return static_cast<AVColorSpace>(space);
}

}  // namespace

YuvToRgb yuv_matrix(const std::string& color_space, bool full_range, const std::string& where) {
  // The decoder's own 16-bit coefficients (swscale's tables): value = ((8*s - offset) * coeff) >> 16, i.e.
  // coeff * 8 / 65536 per level of the sample.
  const decode::YuvCoeffs c = decode::yuv_coeffs(parse_space(color_space, where), full_range);
  constexpr float kPerLevel = 8.f / 65536.f;
  YuvToRgb m;
  m.y_scale = static_cast<float>(c.y_coeff) * kPerLevel;
  m.y_offset = static_cast<float>(c.y_offset) / 8.f;
  m.r_v = static_cast<float>(c.vr) * kPerLevel;
  m.g_u = static_cast<float>(c.ug) * kPerLevel;
  m.g_v = static_cast<float>(c.vg) * kPerLevel;
  m.b_u = static_cast<float>(c.ub) * kPerLevel;
  return m;
}

}  // namespace kuzet::vision
