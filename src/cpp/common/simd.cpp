#include "common/simd.hpp"

#include <cstring>
#include <initializer_list>

namespace kuzet {

namespace {

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
// __builtin_cpu_init: harmless if the CPU model was already read, needed if this runs before that.
bool cpu_supports_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
bool cpu_has_avx512bw() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#else
bool cpu_supports_avx2() { return false; }
bool cpu_has_avx512bw() { return false; }
#endif

}  // namespace

SimdLevel usable_simd_level(SimdLevel level) {
  static const SimdLevel best = cpu_has_avx512bw() ? SimdLevel::Avx512
                                : cpu_supports_avx2() ? SimdLevel::Avx2
                                                   : SimdLevel::Scalar;
  if (level == SimdLevel::Auto) return best;
  return static_cast<int>(level) < static_cast<int>(best) ? level : best;
}

SimdLevel best_simd_level() { return usable_simd_level(SimdLevel::Auto); }

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Auto: return "auto";
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
  }
  return "?";
}

bool parse_simd_level(const char* name, SimdLevel& level) {
  for (SimdLevel l : {SimdLevel::Auto, SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512}) {
    if (std::strcmp(name, simd_level_name(l)) == 0) {
      level = l;
      return true;
    }
  }
  return false;
}

}  // namespace kuzet
