#include "bindings/preprocess_arguments.hpp"

#include <cmath>

#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {
constexpr int kMaxSide = 1 << 14;
}

void check_output_size(int h, int w, const std::string& where) {
  if (h <= 0 || w <= 0 || h > kMaxSide || w > kMaxSide)
    throw InvalidArgument(where + ": output size " + std::to_string(h) + "x" + std::to_string(w) +
                          " is out of range (1.." + std::to_string(kMaxSide) + ")");
}

vision::Fit parse_fit(const std::string& fit, const std::string& where) {
  if (fit == "letterbox_center") return vision::Fit::LetterboxCenter;
  if (fit == "letterbox_topleft") return vision::Fit::LetterboxTopLeft;
  if (fit == "stretch") return vision::Fit::Stretch;
  if (fit == "keep_height") return vision::Fit::KeepHeight;
  throw InvalidArgument(where + ": fit " + fit + " is not one of letterbox_center, letterbox_topleft, stretch, " +
                        "keep_height");
}

std::array<float, 3> three_floats(const py::handle& v, const std::string& where, const std::string& name) {
  const std::string refused = where + ": " + name + " must be a number or 3 numbers";
  std::array<float, 3> out{};
  if (py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v)) {
    out.fill(v.cast<float>());
  } else {
    if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v)) throw InvalidArgument(refused);
    const auto seq = py::reinterpret_borrow<py::sequence>(v);
    if (seq.size() != 3) throw InvalidArgument(refused);
    try {
      for (size_t i = 0; i < 3; ++i) out[i] = seq[i].cast<float>();
    } catch (const py::cast_error&) {
      throw InvalidArgument(refused);
    } catch (const py::error_already_set&) {
      throw InvalidArgument(refused);
    }
  }
  for (float f : out)
    if (!std::isfinite(f)) throw InvalidArgument(where + ": " + name + " must be finite");
  return out;
}

}  // namespace kuzet::bindings
