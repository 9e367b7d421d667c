#include "bindings/bindings.hpp"

namespace kuzet::bindings {

void bind_vision(pybind11::module_& /*m*/) {}

}  // namespace kuzet::bindings
