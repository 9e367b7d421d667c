// kuzet._core matching primitives: top-k selection over watchlist similarities.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"
#include "match/top_k.hpp"
#include "plates/numpy_owned.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

py::tuple top_k_similar(const py::array& sims, long k, float threshold) {
  if (!py::isinstance<py::array_t<float>>(sims) || sims.dtype().kind() != 'f' || sims.itemsize() != 4) {
    throw InvalidArgument("similarities must be float32, got " + std::string(py::str(sims.dtype())));
  }
  if (sims.ndim() != 2) {
    throw InvalidArgument("similarities must be (Q,K), got " + std::to_string(sims.ndim()) + " dimensions");
  }
  if (!(sims.flags() & py::array::c_style)) throw InvalidArgument("similarities must be C-contiguous");
  if (k < 1) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
  const auto rows = static_cast<std::size_t>(sims.shape(0));
  const auto cols = static_cast<std::size_t>(sims.shape(1));
  const auto kk = std::min(static_cast<std::size_t>(k), cols);
  const auto* data = static_cast<const float*>(sims.data());
  match::TopK found;
  {
    py::gil_scoped_release release;
    found = match::top_k_rows(data, rows, cols, kk, threshold);
  }
  const auto shape = std::vector<py::ssize_t>{static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(kk)};
  return py::make_tuple(plates::owned_array(std::move(found.columns), shape),
                        plates::owned_array(std::move(found.similarities), shape));
}

}  // namespace

void bind_match(py::module_& m) {
  m.def("top_k_similar", &top_k_similar, py::arg("similarities"), py::arg("k"), py::kw_only(),
        py::arg("threshold") = -std::numeric_limits<float>::infinity(),
        "For each row of similarities (Q,K) float32: the min(k, K) best columns at or above threshold, best\n"
        "first, equal similarities by column. Returns (columns int64 (Q,k), similarities float32 (Q,k)); a row\n"
        "with fewer qualifying columns is padded with column -1 and similarity NaN. NaNs are never selected.");
}

}  // namespace kuzet::bindings
