// Turns the Python argument `images` (a list of HxWx3 uint8 arrays, or one (N,H,W,3) uint8 array; for NV12 a
// list of (H*3/2, W) uint8 arrays, or one (N, H*3/2, W) array) into ImageViews, with errors that name the offending image. The returned arrays keep the memory alive
// while the GIL is released.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "preprocess/image_view.hpp"

namespace kuzet::vision {

struct NumpyImages {
  std::vector<pybind11::array> arrays;  // owners
  std::vector<ImageView> views;
};

// `what` names the argument in error messages (e.g. "preprocess_batch: images").
NumpyImages images_from_python(const pybind11::handle& images, const char* what);

// NV12 frames (the decoder's layout="nv12" array reshaped to (H*3/2, W): luma rows, then U/V rows), each
// converted with `yuv`. Width and height must be even.
NumpyImages nv12_images_from_python(const pybind11::handle& images, const char* what, const YuvToRgb& yuv);

}  // namespace kuzet::vision
