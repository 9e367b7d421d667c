#include "bindings/warp_arguments.hpp"

#include <cstdint>
#include <cstring>

#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

WarpJobs warp_jobs(const py::array& image_index, const py::array& matrices, std::size_t image_count,
                   const std::string& where) {
  if (matrices.ndim() != 3 || matrices.shape(1) != 3 || matrices.shape(2) != 3 || matrices.dtype().kind() != 'f')
    throw InvalidArgument(where + ": matrices must be a float32/float64 (M,3,3) array");
  const auto m = matrices.shape(0);
  if (image_index.ndim() != 1 || image_index.shape(0) != m ||
      (image_index.dtype().kind() != 'i' && image_index.dtype().kind() != 'u'))
    throw InvalidArgument(where + ": image_index must be an integer array of shape (" + std::to_string(m) +
                          ",), one source image per matrix");
  auto idx = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(image_index);
  auto mats = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(matrices);
  WarpJobs jobs{std::vector<int>(static_cast<std::size_t>(m)),
                std::vector<vision::Matrix3>(static_cast<std::size_t>(m))};
  for (py::ssize_t k = 0; k < m; ++k) {
    const auto i = idx.at(k);
    if (i < 0 || i >= static_cast<std::int64_t>(image_count))
      throw InvalidArgument(where + ": image_index[" + std::to_string(k) + "] = " + std::to_string(i) +
                            " is out of range for " + std::to_string(image_count) + " images");
    jobs.image_index[static_cast<std::size_t>(k)] = static_cast<int>(i);
    std::memcpy(jobs.matrices[static_cast<std::size_t>(k)].data(), mats.data(k, 0, 0), 9 * sizeof(double));
  }
  return jobs;
}

std::uint8_t warp_border(int border_value, const std::string& where) {
  if (border_value < 0 || border_value > 255)
    throw InvalidArgument(where + ": border_value must be in 0..255, got " + std::to_string(border_value));
  return static_cast<std::uint8_t>(border_value);
}

}  // namespace kuzet::bindings
