#include "bindings/bindings.hpp"

namespace kuzet::bindings {

void bind_hash(pybind11::module_& /*m*/) {}

}  // namespace kuzet::bindings
