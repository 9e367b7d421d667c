// kuzet._core plate primitives: detector output decoding, CTC decoding and hotlist edit distance.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"
#include "plates/ctc_decode.hpp"
#include "plates/edit_distance.hpp"
#include "plates/numpy_owned.hpp"
#include "plates/yolo_decode.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

// A C-contiguous float32 array of the given rank, or InvalidArgument naming what is wrong.
void require_float32(const py::array& a, int ndim, const char* what) {
  if (!py::isinstance<py::array_t<float>>(a) || a.dtype().kind() != 'f' || a.itemsize() != 4) {
    throw InvalidArgument(std::string(what) + " must be float32, got " + std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) {
    throw InvalidArgument(std::string(what) + " must have " + std::to_string(ndim) + " dimensions, got " +
                          std::to_string(a.ndim()));
  }
  if (!(a.flags() & py::array::c_style)) throw InvalidArgument(std::string(what) + " must be C-contiguous");
}

py::tuple decode_yolo(const py::array& output, const py::array& transforms, float score_threshold,
                      int corner_count) {
  require_float32(output, 3, "detector output");
  require_float32(transforms, 2, "transforms");
  const auto n = static_cast<size_t>(output.shape(0));
  if (transforms.shape(0) != output.shape(0) || transforms.shape(1) != 4) {
    throw InvalidArgument("transforms must have shape (" + std::to_string(n) + ", 4), one per image");
  }
  plates::YoloLayout layout{corner_count, score_threshold};
  const auto* out_data = static_cast<const float*>(output.data());
  const auto* tr_data = static_cast<const float*>(transforms.data());
  const auto m = static_cast<size_t>(output.shape(1));
  const auto c = static_cast<size_t>(output.shape(2));
  plates::YoloCandidates found;
  {
    py::gil_scoped_release release;
    found = plates::decode_yolo(out_data, n, m, c, tr_data, layout);
  }
  const auto k = static_cast<py::ssize_t>(found.size());
  return py::make_tuple(plates::owned_array(std::move(found.image), {k}),
                        plates::owned_array(std::move(found.boxes), {k, 4}),
                        plates::owned_array(std::move(found.corners), {k, corner_count, 2}),
                        plates::owned_array(std::move(found.scores), {k}),
                        plates::owned_array(std::move(found.classes), {k}));
}

py::tuple ctc_greedy_decode(const py::array& probs, const py::object& allowed, const py::object& lengths) {
  require_float32(probs, 3, "recogniser output");
  const auto n = static_cast<size_t>(probs.shape(0));
  const auto t = static_cast<size_t>(probs.shape(1));
  const auto c = static_cast<size_t>(probs.shape(2));
  py::array_t<uint8_t, py::array::c_style> mask;
  if (!allowed.is_none()) {
    mask = py::array_t<uint8_t, py::array::c_style>::ensure(allowed);
    if (!mask || mask.ndim() != 1 || static_cast<size_t>(mask.shape(0)) != c) {
      throw InvalidArgument("allowed must be a 1-D bool/uint8 mask with one entry per class (" +
                            std::to_string(c) + ")");
    }
  }
  py::array_t<int64_t, py::array::c_style> lens;
  if (!lengths.is_none()) {
    lens = py::array_t<int64_t, py::array::c_style>::ensure(lengths);
    if (!lens || lens.ndim() != 1 || static_cast<size_t>(lens.shape(0)) != n) {
      throw InvalidArgument("lengths must be a 1-D integer array with one entry per row (" +
                            std::to_string(n) + ")");
    }
  }
  const auto* p = static_cast<const float*>(probs.data());
  const uint8_t* mask_data = allowed.is_none() ? nullptr : mask.data();
  const int64_t* lens_data = lengths.is_none() ? nullptr : lens.data();
  plates::CtcResult result;
  {
    py::gil_scoped_release release;
    result = plates::ctc_greedy_decode(p, n, t, c, mask_data, lens_data);
  }
  const auto total = static_cast<py::ssize_t>(result.labels.size());
  return py::make_tuple(plates::owned_array(std::move(result.labels), {total}),
                        plates::owned_array(std::move(result.confidences), {total}),
                        plates::owned_array(std::move(result.offsets), {static_cast<py::ssize_t>(n) + 1}));
}

}  // namespace

void bind_plates(py::module_& m) {
  m.def("plates_decode_yolo", &decode_yolo, py::arg("output"), py::arg("transforms"), py::kw_only(),
        py::arg("score_threshold") = 0.5F, py::arg("corner_count") = 4,
        "Decode a YOLO-style detector output [N,M,5+2K+nc] (K corners) into frame-coordinate candidates:\n"
        "(image int32 (K,), boxes float32 (K,4) x1y1x2y2, corners float32 (K,K,2), scores, classes).\n"
        "transforms (N,4) = (scale_x, scale_y, pad_x, pad_y) from preprocessing. No NMS.");
  m.def("plates_ctc_greedy_decode", &ctc_greedy_decode, py::arg("probs"), py::kw_only(),
        py::arg("allowed") = py::none(), py::arg("lengths") = py::none(),
        "Greedy CTC decoding of probs (N,T,C) float32, class 0 = blank: argmax over `allowed` classes\n"
        "(mask (C,)) and the blank, collapse repeats, drop blanks. Returns (labels int32, confidences\n"
        "float32, offsets int64 (N+1,)); row r's labels are labels[offsets[r]:offsets[r+1]].");
  m.def(
      "plates_edit_distance",
      [](const std::u32string& a, const std::u32string& b) { return plates::edit_distance(a, b); },
      py::arg("a"), py::arg("b"), "Levenshtein distance between two strings.");
  py::class_<plates::PlateIndex>(m, "PlateIndex", "Wanted plates searched by edit distance.")
      .def(py::init<std::vector<std::u32string>>(), py::arg("plates"))
      .def("__len__", &plates::PlateIndex::size)
      .def("search", &plates::PlateIndex::search, py::arg("query"), py::arg("max_distance"),
           py::call_guard<py::gil_scoped_release>(),
           "(index, distance) of every plate within max_distance of query, nearest first.");
}

}  // namespace kuzet::bindings
