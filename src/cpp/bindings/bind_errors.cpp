#include <pybind11/pybind11.h>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

// pybind11 tries translators newest first, so the subclasses are registered after their base.
void bind_errors(py::module_& m) {
  auto base = py::register_exception<kuzet::Error>(m, "KuzetError", PyExc_RuntimeError);
  py::register_exception<kuzet::InvalidArgument>(m, "InvalidArgument", PyExc_ValueError);
  (void)base;
}

}  // namespace kuzet::bindings
