#include <pybind11/pybind11.h>

#include "bindings/bindings.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

// The base classes are defined in Python (kuzet/errors.py) so they exist and type-check without the
// native module; C++ exceptions are translated into them here. Capabilities register their own subclasses
// with py::register_exception<T>(m, "Name", m.attr("KuzetError")), after this runs.
void bind_errors(py::module_& m) {
  py::module_ errors = py::module_::import("kuzet.errors");
  m.attr("KuzetError") = errors.attr("KuzetError");
  m.attr("InvalidArgument") = errors.attr("InvalidArgument");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kuzet::InvalidArgument& e) {
      py::set_error(py::module_::import("kuzet.errors").attr("InvalidArgument"), e.what());
    } catch (const kuzet::Error& e) {
      py::set_error(py::module_::import("kuzet.errors").attr("KuzetError"), e.what());
    }
  });
}

}  // namespace kuzet::bindings
