// Batched bilinear warps (affine or perspective) of crops out of a set of images: face alignment to a
// template and plate rectification are the same operation with a different 3x3 matrix.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "common/simd.hpp"
#include "preprocess/image_view.hpp"

namespace kuzet::vision {

// Maps OUTPUT pixel coordinates (x, y, 1) to SOURCE pixel coordinates (homogeneous), row-major.
using Matrix3 = std::array<double, 9>;

// Fills output rows [row_begin, row_end) of one out_h x out_w x 3 crop. Source positions are exact (double);
// taps outside the image read `border`, like OpenCV's BORDER_CONSTANT (which agrees to within one level).
// Every SimdLevel gives the same bytes (affine RGB warps have an AVX2 loop).
void warp_rows(const ImageView& img, const Matrix3& m, int out_h, int out_w, std::uint8_t border,
               std::uint8_t* out, int row_begin, int row_end, SimdLevel simd = SimdLevel::Auto);

// Crop k is warped from images[image_index[k]] with matrices[k] into out + k*out_h*out_w*3.
void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                std::uint8_t* out, unsigned threads = 0, SimdLevel simd = SimdLevel::Auto);

}  // namespace kuzet::vision
