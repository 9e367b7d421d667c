#include "bindings/bindings.hpp"

namespace kuzet::bindings {

void bind_decode(pybind11::module_& /*m*/) {}

}  // namespace kuzet::bindings
