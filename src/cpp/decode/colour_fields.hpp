// Colour fields of streams and frames read safely. FFmpeg stores what a bitstream says, and a damaged or
// hostile header can say anything (a fuzzed AV1 header gave matrix_coefficients 165, which no AVColorSpace
// names): any int is fine in C, but loading such a value through the C++ enum type is undefined behaviour.
// These read the raw integer and give "unspecified" (what FFmpeg's own converters then assume) outside the
// enum's known values.
#pragma once
#include <cstring>

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace kuzet::decode {

namespace detail {
template <typename Enum>
Enum known_or_unspecified(const Enum& field, int count, Enum unspecified) {
  static_assert(sizeof(Enum) == sizeof(int), "FFmpeg's colour enums are int-sized");
  int raw = 0;
  std::memcpy(&raw, &field, sizeof raw);  // no load of the enum type
  return raw >= 0 && raw < count ? static_cast<Enum>(raw) : unspecified;
}
}  // namespace detail

inline AVColorSpace colour_space(const AVColorSpace& field) {
  return detail::known_or_unspecified(field, AVCOL_SPC_NB, AVCOL_SPC_UNSPECIFIED);
}
inline AVColorRange colour_range(const AVColorRange& field) {
  return detail::known_or_unspecified(field, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED);
}
inline AVColorPrimaries colour_primaries(const AVColorPrimaries& field) {
  return detail::known_or_unspecified(field, AVCOL_PRI_NB, AVCOL_PRI_UNSPECIFIED);
}
inline AVColorTransferCharacteristic colour_transfer(const AVColorTransferCharacteristic& field) {
  return detail::known_or_unspecified(field, AVCOL_TRC_NB, AVCOL_TRC_UNSPECIFIED);
}

}  // namespace kuzet::decode
