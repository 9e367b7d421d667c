// Exception types thrown by the C++ core. The bindings map each to a Python exception class
// (kuzet.KuzetError and its subclasses), so a caller can catch the problem by kind.
#pragma once
#include <stdexcept>
#include <string>

namespace kuzet {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Invalid arguments from the caller (shapes, dtypes, ranges).
struct InvalidArgument : Error {
  using Error::Error;
};

}  // namespace kuzet
