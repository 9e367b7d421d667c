#include "bindings/bindings.hpp"

namespace kuzet::bindings {

void bind_plates(pybind11::module_& /*m*/) {}

}  // namespace kuzet::bindings
