// Each capability binds its own part of kuzet._core in its own file (bind_<capability>.cpp).
#pragma once
#include <pybind11/pybind11.h>

namespace kuzet::bindings {

void bind_errors(pybind11::module_& m);
void bind_info(pybind11::module_& m);
void bind_decode(pybind11::module_& m);
void bind_cuda(pybind11::module_& m);
void bind_hash(pybind11::module_& m);
void bind_vision(pybind11::module_& m);
void bind_plates(pybind11::module_& m);
void bind_match(pybind11::module_& m);
void bind_kernel_twins(pybind11::module_& m);  // test hooks: the CUDA kernels' code run on the host

}  // namespace kuzet::bindings
