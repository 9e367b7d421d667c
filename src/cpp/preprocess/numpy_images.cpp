#include "preprocess/numpy_images.hpp"

#include <string>

#include "common/errors.hpp"

namespace py = pybind11;

namespace kuzet::vision {

namespace {

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_of(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Checks layout: uint8, 3 channels, non-empty, each pixel's 3 bytes adjacent (rows may be strided).
void check_pixels(const py::array& a, int first_axis, const std::string& name) {
  if (a.dtype().kind() != 'u' || a.itemsize() != 1)
    throw InvalidArgument(name + ": expected dtype uint8 (RGB 0..255), got " + dtype_of(a));
  const auto h = a.shape(first_axis), w = a.shape(first_axis + 1), c = a.shape(first_axis + 2);
  if (c != 3)
    throw InvalidArgument(name + ": expected 3 channels (HxWx3 RGB), got shape " + shape_of(a) +
                          (c == 4 ? " (RGBA: drop or composite the alpha channel first)" : ""));
  if (h == 0 || w == 0) throw InvalidArgument(name + ": empty image, shape " + shape_of(a));
  if (h > (1 << 15) || w > (1 << 15)) throw InvalidArgument(name + ": image too large, shape " + shape_of(a));
  if (a.strides(first_axis + 2) != 1 || a.strides(first_axis + 1) != 3 || a.strides(first_axis) < 3 * w)
    throw InvalidArgument(name + ": pixels are not contiguous (pass np.ascontiguousarray(image))");
}

ImageView view_of(const py::array& a, int first_axis, const std::uint8_t* base) {
  ImageView v;
  v.data = base;
  v.height = static_cast<int>(a.shape(first_axis));
  v.width = static_cast<int>(a.shape(first_axis + 1));
  v.row_stride = a.strides(first_axis);
  return v;
}

// NV12 layout checks: uint8, (H*3/2, W) with H and W even and non-zero, bytes of a row contiguous.
void check_nv12(const py::array& a, int first_axis, const std::string& name) {
  if (a.dtype().kind() != 'u' || a.itemsize() != 1)
    throw InvalidArgument(name + ": expected dtype uint8 (NV12), got " + dtype_of(a));
  const auto rows = a.shape(first_axis), w = a.shape(first_axis + 1);
  if (rows == 0 || w == 0) throw InvalidArgument(name + ": empty NV12 frame, shape " + shape_of(a));
  if (rows % 3 != 0)
    throw InvalidArgument(name + ": an NV12 frame has height*3/2 rows (luma rows, then half as many U/V rows), got " +
                          std::to_string(rows) + " rows, shape " + shape_of(a) +
                          " (NV12 input needs an even width and height)");
  const auto h = rows / 3 * 2;
  if (h % 2 != 0 || w % 2 != 0)
    throw InvalidArgument(name + ": NV12 frames need an even width and height, got " + std::to_string(w) + "x" +
                          std::to_string(h) + " (shape " + shape_of(a) + ")");
  if (h > (1 << 15) || w > (1 << 15)) throw InvalidArgument(name + ": image too large, shape " + shape_of(a));
  if (a.strides(first_axis + 1) != 1 || a.strides(first_axis) < w)
    throw InvalidArgument(name + ": NV12 rows are not contiguous (pass np.ascontiguousarray(frame))");
}

ImageView nv12_view_of(const py::array& a, int first_axis, const std::uint8_t* base, const YuvToRgb& yuv) {
  ImageView v;
  v.format = PixelFormat::Nv12;
  v.data = base;
  v.height = static_cast<int>(a.shape(first_axis) / 3 * 2);
  v.width = static_cast<int>(a.shape(first_axis + 1));
  v.row_stride = a.strides(first_axis);
  v.uv = base + static_cast<std::ptrdiff_t>(v.height) * v.row_stride;
  v.uv_stride = v.row_stride;
  v.yuv = yuv;
  return v;
}

}  // namespace

NumpyImages nv12_images_from_python(const py::handle& images, const char* what, const YuvToRgb& yuv) {
  NumpyImages out;
  const std::string base = what;
  const char* reshape = " (a VideoReader layout='nv12' frame is flat: frame.reshape(height * 3 // 2, width))";
  if (py::isinstance<py::array>(images)) {
    auto a = py::reinterpret_borrow<py::array>(images);
    if (a.ndim() != 3)
      throw InvalidArgument(base + ": expected a list of (H*3/2, W) NV12 arrays or one (N, H*3/2, W) uint8 array, "
                            "got an array of shape " + shape_of(a) +
                            (a.ndim() == 2 ? " (wrap a single frame in a list)" : a.ndim() == 1 ? reshape : ""));
    if (a.shape(0) == 0) return out;
    check_nv12(a, 1, base);
    const auto* data = static_cast<const std::uint8_t*>(a.data());
    for (py::ssize_t i = 0; i < a.shape(0); ++i) out.views.push_back(nv12_view_of(a, 1, data + i * a.strides(0), yuv));
    out.arrays.push_back(a);
    return out;
  }
  if (!py::isinstance<py::list>(images) && !py::isinstance<py::tuple>(images))
    throw InvalidArgument(base + ": expected a list of (H*3/2, W) uint8 NV12 arrays or an (N, H*3/2, W) array, got " +
                          std::string(py::str(py::type::of(images).attr("__name__"))));
  auto seq = py::reinterpret_borrow<py::sequence>(images);
  for (py::ssize_t i = 0; i < static_cast<py::ssize_t>(seq.size()); ++i) {
    const std::string name = base + "[" + std::to_string(i) + "]";
    py::object item = seq[static_cast<size_t>(i)];
    if (!py::isinstance<py::array>(item))
      throw InvalidArgument(name + ": expected a numpy array, got " +
                            std::string(py::str(py::type::of(item).attr("__name__"))));
    auto a = py::reinterpret_borrow<py::array>(item);
    if (a.ndim() != 2)
      throw InvalidArgument(name + ": expected an NV12 frame of shape (H*3/2, W), got shape " + shape_of(a) +
                            (a.ndim() == 1 ? reshape : a.ndim() == 3 ? " (an RGB image? pass pixel_format='rgb')" : ""));
    check_nv12(a, 0, name);
    out.views.push_back(nv12_view_of(a, 0, static_cast<const std::uint8_t*>(a.data()), yuv));
    out.arrays.push_back(a);
  }
  return out;
}

NumpyImages images_from_python(const py::handle& images, const char* what) {
  NumpyImages out;
  const std::string base = what;
  if (py::isinstance<py::array>(images)) {
    auto a = py::reinterpret_borrow<py::array>(images);
    if (a.ndim() != 4)
      throw InvalidArgument(base + ": expected a list of HxWx3 arrays or one (N,H,W,3) uint8 array, got an array "
                            "of shape " + shape_of(a) + (a.ndim() == 3 ? " (wrap a single image in a list)" : ""));
    if (a.shape(0) == 0) return out;
    check_pixels(a, 1, base);
    const auto* data = static_cast<const std::uint8_t*>(a.data());
    for (py::ssize_t i = 0; i < a.shape(0); ++i) out.views.push_back(view_of(a, 1, data + i * a.strides(0)));
    out.arrays.push_back(a);
    return out;
  }
  if (!py::isinstance<py::list>(images) && !py::isinstance<py::tuple>(images))
    throw InvalidArgument(base + ": expected a list of HxWx3 uint8 arrays or an (N,H,W,3) uint8 array, got " +
                          std::string(py::str(py::type::of(images).attr("__name__"))));
  auto seq = py::reinterpret_borrow<py::sequence>(images);
  for (py::ssize_t i = 0; i < static_cast<py::ssize_t>(seq.size()); ++i) {
    const std::string name = base + "[" + std::to_string(i) + "]";
    py::object item = seq[static_cast<size_t>(i)];
    if (!py::isinstance<py::array>(item))
      throw InvalidArgument(name + ": expected a numpy array, got " +
                            std::string(py::str(py::type::of(item).attr("__name__"))));
    auto a = py::reinterpret_borrow<py::array>(item);
    if (a.ndim() != 3)
      throw InvalidArgument(name + ": expected an HxWx3 image, got shape " + shape_of(a) +
                            (a.ndim() == 2 ? " (grey: convert to RGB first)" : ""));
    check_pixels(a, 0, name);
    out.views.push_back(view_of(a, 0, static_cast<const std::uint8_t*>(a.data())));
    out.arrays.push_back(a);
  }
  return out;
}

}  // namespace kuzet::vision
