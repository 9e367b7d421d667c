// Face alignment matrices: the least-squares similarity (rotation, uniform scale, translation) taking each
// face's landmarks onto a template, returned inverted (crop pixel -> source pixel) for warp_batch.
// Per face this is a few dozen flops: done in numpy it cost ~100 us of array overhead per call of a few faces.
#pragma once
#include <cstddef>
#include <vector>

#include "preprocess/warp.hpp"

namespace kuzet::vision {

// landmarks: m faces of `points` (x, y) pairs; template_points: `points` (x, y) pairs. The closed form in 2-D
// (Umeyama 1991): with both sets centred, the forward map is [[a, -b], [b, a]], a = sum(x*u + y*v) / sum(x^2 +
// y^2), b = sum(x*v - y*u) / sum(x^2 + y^2). Throws InvalidArgument naming the face whose points all coincide.
std::vector<Matrix3> alignment_matrices(const double* landmarks, std::size_t m, std::size_t points,
                                        const double* template_points);

}  // namespace kuzet::vision
