// Raises C++ exceptions as the Python classes defined in kuzet/errors.py (or another pure-Python module). Those classes are pure Python so
// they exist (and type-check) without the native module. pybind11 tries translators newest first, so
// register a base class before its subclasses.
#pragma once
#include <pybind11/pybind11.h>

namespace kuzet::bindings {

template <class CppError>
void raise_as_python_error(const char* python_class, const char* python_module = "kuzet.errors") {
  static const char* name = python_class;  // one per CppError; translators must be capture-free
  static const char* module = python_module;
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const CppError& e) {
      pybind11::set_error(pybind11::module_::import(module).attr(name), e.what());
    }
  });
}

}  // namespace kuzet::bindings
