// Checks and converts the per-crop arguments shared by warp_batch (CPU) and cuda_warp_batch: one source
// image index and one 3x3 matrix per output crop.
#pragma once
#include <pybind11/numpy.h>

#include <cstddef>
#include <string>
#include <vector>

#include "preprocess/warp.hpp"

namespace kuzet::bindings {

struct WarpJobs {
  std::vector<int> image_index;
  std::vector<vision::Matrix3> matrices;
};

// `where` names the calling function in errors (InvalidArgument on a bad shape, dtype or index).
WarpJobs warp_jobs(const pybind11::array& image_index, const pybind11::array& matrices, std::size_t image_count,
                   const std::string& where);

// border_value must be a uint8 grey level.
std::uint8_t warp_border(int border_value, const std::string& where);

}  // namespace kuzet::bindings
