// Which vector code a pixel loop runs. Nothing is compiled with global ISA flags (the module runs on any
// x86-64): AVX2 / AVX-512 loops are compiled per function and chosen at run time. Every level computes the same
// bytes; the named levels exist for tests and benchmarks, which compare them.
#pragma once

namespace kuzet {

enum class SimdLevel { Auto, Scalar, Avx2, Avx512 };

// What a requested level means on this CPU: Auto is the widest it supports; a named level it lacks becomes the
// widest it has below that.
SimdLevel usable_simd_level(SimdLevel level);
SimdLevel best_simd_level();
const char* simd_level_name(SimdLevel level);
// "auto", "scalar", "avx2" or "avx512"; false for any other name.
bool parse_simd_level(const char* name, SimdLevel& level);

inline bool cpu_has_avx2() { return usable_simd_level(SimdLevel::Avx2) == SimdLevel::Avx2; }

}  // namespace kuzet
