// Hands a std::vector's buffer to numpy without copying: the array owns the vector through a capsule.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

namespace kuzet::plates {

template <typename T>
pybind11::array_t<T> owned_array(std::vector<T>&& values, std::vector<pybind11::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(values));
  pybind11::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return pybind11::array_t<T>(std::move(shape), heap->data(), owner);
}

}  // namespace kuzet::plates
