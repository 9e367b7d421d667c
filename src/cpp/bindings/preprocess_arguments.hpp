// Checks and converts the arguments shared by preprocess_batch (CPU), cuda_preprocess_batch and the CUDA
// kernels' host twin, so all three accept and refuse the same values with the same messages. `where` names
// the calling function in errors (InvalidArgument).
#pragma once
#include <pybind11/pybind11.h>

#include <array>
#include <string>

#include "preprocess/preprocess.hpp"

namespace kuzet::bindings {

// An output (or model input) size: 1..16384 on each side.
void check_output_size(int h, int w, const std::string& where);

// "letterbox_center", "letterbox_topleft", "stretch" or "keep_height".
vision::Fit parse_fit(const std::string& fit, const std::string& where);

// A number (for all three channels) or 3 numbers, all finite; `name` is the argument's (e.g. "mean").
std::array<float, 3> three_floats(const pybind11::handle& v, const std::string& where, const std::string& name);

}  // namespace kuzet::bindings
