#include <pybind11/pybind11.h>

#include "bindings/bindings.hpp"
#include "bindings/python_errors.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

void bind_errors(py::module_& m) {
  py::module_ errors = py::module_::import("kuzet.errors");
  m.attr("KuzetError") = errors.attr("KuzetError");
  m.attr("InvalidArgument") = errors.attr("InvalidArgument");
  raise_as_python_error<kuzet::Error>("KuzetError");
  raise_as_python_error<kuzet::InvalidArgument>("InvalidArgument");
}

}  // namespace kuzet::bindings
