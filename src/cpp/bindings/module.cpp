#include "bindings/bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "kuzet native core: decoding, pre/post-processing, hashing";
  m.attr("__version__") = KUZET_VERSION;
  kuzet::bindings::bind_errors(m);
  kuzet::bindings::bind_info(m);
  kuzet::bindings::bind_decode(m);
  kuzet::bindings::bind_cuda(m);
  kuzet::bindings::bind_hash(m);
  kuzet::bindings::bind_vision(m);
  kuzet::bindings::bind_plates(m);
  kuzet::bindings::bind_match(m);
  kuzet::bindings::bind_kernel_twins(m);
}
