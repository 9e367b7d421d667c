// kuzet._core GPU pre-processing of frames that are already in GPU memory: anything with
// __cuda_array_interface__ (kuzet DeviceArray from NVDEC, CuPy, PyTorch, ONNX Runtime buffers wrapped by
// kuzet.models.device). The results go straight into device buffers (the input ONNX Runtime reads through
// IOBinding, the aligned crops the embedder reads), so a frame never comes back to the host.
// The pipelines call these through python/kuzet/faces/gpu.py and python/kuzet/plates/gpu.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bindings/preprocess_arguments.hpp"
#include "bindings/warp_arguments.hpp"
#include "common/errors.hpp"
#include "preprocess/cuda/vision_cuda.hpp"
#include "preprocess/yuv_matrix.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

constexpr int kMaxSide = 1 << 15;

// One __cuda_array_interface__ (v2/v3), checked: dtype, C-contiguous pixels (rows may be strided).
struct CudaArray {
  std::uintptr_t data = 0;
  bool readonly = false;
  std::vector<py::ssize_t> shape;
  std::vector<py::ssize_t> strides;  // bytes, filled in for C-contiguous arrays
  std::uintptr_t stream = 0;         // the producer's stream (0: none given, nothing to wait for)
};

// Fills `a` from a __cuda_array_interface__ dict; throws InvalidArgument for a dtype/stride problem.
void parse_interface(const py::object& interface, CudaArray& a, const std::string& name, const std::string& typestr,
                     int itemsize) {
  py::dict cai = interface;
  const auto ts = cai["typestr"].cast<std::string>();
  if (ts.size() < 2 || ts.substr(1) != typestr.substr(1) || (itemsize > 1 && ts[0] == '>'))
    throw InvalidArgument(name + ": expected dtype " + typestr + ", got " + ts);
  a.shape = cai["shape"].cast<std::vector<py::ssize_t>>();
  auto data = cai["data"].cast<py::tuple>();
  a.data = data[0].cast<std::uintptr_t>();
  a.readonly = data[1].cast<bool>();
  a.strides.assign(a.shape.size(), 0);
  py::ssize_t step = itemsize;
  for (size_t d = a.shape.size(); d-- > 0;) {
    a.strides[d] = step;
    step *= a.shape[d];
  }
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    const auto given = cai["strides"].cast<std::vector<py::ssize_t>>();
    if (given.size() != a.shape.size()) throw InvalidArgument(name + ": strides do not match the shape");
    a.strides = given;
  }
  if (cai.contains("mask") && !cai["mask"].is_none()) throw InvalidArgument(name + ": masked arrays are not supported");
  // v3: the producer's stream to synchronise on (1: legacy default, 2: per-thread default, else a cudaStream_t,
  // whose values CUDA gives these two meanings too); None or absent: nothing to wait for; 0 is invalid.
  if (cai.contains("stream") && !cai["stream"].is_none()) {
    a.stream = cai["stream"].cast<std::uintptr_t>();
    if (a.stream == 0) throw InvalidArgument(name + ": __cuda_array_interface__ stream 0 is not allowed (v3)");
  }
  if (a.data == 0 && step != 0) throw InvalidArgument(name + ": null device pointer");
}

CudaArray cuda_array(const py::handle& obj, const std::string& name, const std::string& typestr, int itemsize) {
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    throw InvalidArgument(name + ": expected a CUDA array (__cuda_array_interface__), got " +
                          std::string(py::str(py::type::of(obj).attr("__name__"))));
  CudaArray a;
  try {
    parse_interface(obj.attr("__cuda_array_interface__"), a, name, typestr, itemsize);
  } catch (const py::error_already_set& e) {  // a missing key, a wrong type: not a usable interface
    throw InvalidArgument(name + ": malformed __cuda_array_interface__ (" + std::string(e.what()) + ")");
  } catch (const py::cast_error& e) {
    throw InvalidArgument(name + ": malformed __cuda_array_interface__ (" + std::string(e.what()) + ")");
  }
  return a;
}

std::string shape_text(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

void check_pixels(const CudaArray& a, size_t first_axis, const std::string& name) {
  const auto h = a.shape[first_axis], w = a.shape[first_axis + 1], c = a.shape[first_axis + 2];
  if (c != 3) throw InvalidArgument(name + ": expected HxWx3 RGB pixels, got shape " + shape_text(a.shape));
  if (h <= 0 || w <= 0) throw InvalidArgument(name + ": empty image, shape " + shape_text(a.shape));
  if (h > kMaxSide || w > kMaxSide) throw InvalidArgument(name + ": image too large, shape " + shape_text(a.shape));
  if (a.strides[first_axis + 2] != 1 || a.strides[first_axis + 1] != 3 || a.strides[first_axis] < 3 * w)
    throw InvalidArgument(name + ": pixels are not contiguous (rows may be strided, pixels may not)");
}

vision::ImageView view_at(const CudaArray& a, size_t first_axis, std::uintptr_t address) {
  vision::ImageView v;
  v.data = reinterpret_cast<const std::uint8_t*>(address);
  v.height = static_cast<int>(a.shape[first_axis]);
  v.width = static_cast<int>(a.shape[first_axis + 1]);
  v.row_stride = a.strides[first_axis];
  return v;
}

// NV12 frames: (H*3/2, W) uint8, H and W even, bytes of a row contiguous; the U/V rows follow the luma rows.
void check_nv12(const CudaArray& a, size_t first_axis, const std::string& name) {
  const auto rows = a.shape[first_axis], w = a.shape[first_axis + 1];
  if (rows <= 0 || w <= 0) throw InvalidArgument(name + ": empty NV12 frame, shape " + shape_text(a.shape));
  if (rows % 3 != 0 || (rows / 3 * 2) % 2 != 0 || w % 2 != 0)
    throw InvalidArgument(name + ": expected an NV12 frame of shape (H*3/2, W) with an even width and height, "
                          "got shape " + shape_text(a.shape));
  if (rows > kMaxSide || w > kMaxSide) throw InvalidArgument(name + ": image too large, shape " + shape_text(a.shape));
  if (a.strides[first_axis + 1] != 1 || a.strides[first_axis] < w)
    throw InvalidArgument(name + ": NV12 rows are not contiguous");
}

vision::ImageView nv12_view_at(const CudaArray& a, size_t first_axis, std::uintptr_t address,
                               const vision::YuvToRgb& yuv) {
  vision::ImageView v;
  v.format = vision::PixelFormat::Nv12;
  v.data = reinterpret_cast<const std::uint8_t*>(address);
  v.height = static_cast<int>(a.shape[first_axis] / 3 * 2);
  v.width = static_cast<int>(a.shape[first_axis + 1]);
  v.row_stride = a.strides[first_axis];
  v.uv = v.data + static_cast<std::ptrdiff_t>(v.height) * v.row_stride;
  v.uv_stride = v.row_stride;
  v.yuv = yuv;
  return v;
}

// How the sources are laid out: RGB, or NV12 with its colour conversion.
struct SourceFormat {
  bool nv12 = false;
  vision::YuvToRgb yuv;
};

SourceFormat source_format(const std::string& pixel_format, const std::string& color_space, bool full_range,
                           const std::string& where) {
  if (pixel_format == "rgb") return {};
  if (pixel_format == "nv12") return {true, vision::yuv_matrix(color_space, full_range, where)};
  throw InvalidArgument(where + ": pixel_format must be 'rgb' or 'nv12', got '" + pixel_format + "'");
}

// A list of HxWx3 uint8 CUDA arrays, or one (N,H,W,3) CUDA array (NV12: (H*3/2, W) and (N, H*3/2, W)).
struct DeviceImages {
  std::vector<vision::ImageView> views;  // device addresses
  std::vector<std::uintptr_t> streams;   // producer streams to wait for
};

DeviceImages device_images(const py::handle& images, const std::string& what, const SourceFormat& format) {
  DeviceImages out;
  if (format.nv12) {
    if (py::hasattr(images, "__cuda_array_interface__")) {
      const CudaArray a = cuda_array(images, what, "|u1", 1);
      if (a.shape.size() != 3)
        throw InvalidArgument(what + ": expected a list of (H*3/2, W) NV12 CUDA arrays or one (N, H*3/2, W) CUDA "
                              "array, got shape " + shape_text(a.shape));
      if (a.shape[0] == 0) return out;
      check_nv12(a, 1, what);
      for (py::ssize_t i = 0; i < a.shape[0]; ++i)
        out.views.push_back(nv12_view_at(a, 1, a.data + static_cast<std::uintptr_t>(i * a.strides[0]), format.yuv));
      out.streams.push_back(a.stream);
      return out;
    }
    if (!py::isinstance<py::list>(images) && !py::isinstance<py::tuple>(images))
      throw InvalidArgument(what + ": expected a list of NV12 uint8 CUDA arrays, got " +
                            std::string(py::str(py::type::of(images).attr("__name__"))));
    auto seq = py::reinterpret_borrow<py::sequence>(images);
    for (size_t i = 0; i < seq.size(); ++i) {
      const std::string name = what + "[" + std::to_string(i) + "]";
      const CudaArray a = cuda_array(seq[i], name, "|u1", 1);
      if (a.shape.size() != 2)
        throw InvalidArgument(name + ": expected an NV12 frame of shape (H*3/2, W), got shape " + shape_text(a.shape));
      check_nv12(a, 0, name);
      out.views.push_back(nv12_view_at(a, 0, a.data, format.yuv));
      out.streams.push_back(a.stream);
    }
    return out;
  }
  if (py::hasattr(images, "__cuda_array_interface__")) {
    const CudaArray a = cuda_array(images, what, "|u1", 1);
    if (a.shape.size() != 4)
      throw InvalidArgument(what + ": expected a list of HxWx3 CUDA arrays or one (N,H,W,3) CUDA array, got shape " +
                            shape_text(a.shape));
    if (a.shape[0] == 0) return out;
    check_pixels(a, 1, what);
    for (py::ssize_t i = 0; i < a.shape[0]; ++i)
      out.views.push_back(view_at(a, 1, a.data + static_cast<std::uintptr_t>(i * a.strides[0])));
    out.streams.push_back(a.stream);
    return out;
  }
  if (!py::isinstance<py::list>(images) && !py::isinstance<py::tuple>(images))
    throw InvalidArgument(what + ": expected a list of HxWx3 uint8 CUDA arrays, got " +
                          std::string(py::str(py::type::of(images).attr("__name__"))));
  auto seq = py::reinterpret_borrow<py::sequence>(images);
  for (size_t i = 0; i < seq.size(); ++i) {
    const std::string name = what + "[" + std::to_string(i) + "]";
    const CudaArray a = cuda_array(seq[i], name, "|u1", 1);
    if (a.shape.size() != 3)
      throw InvalidArgument(name + ": expected an HxWx3 image, got shape " + shape_text(a.shape));
    check_pixels(a, 0, name);
    out.views.push_back(view_at(a, 0, a.data));
    out.streams.push_back(a.stream);
  }
  return out;
}

// The producers' streams of the sources and of `out`: its producer may still have work queued on it (a
// cupy.zeros still filling it, a previous reader of it), which must finish before the kernel writes there.
std::vector<std::uintptr_t> streams_to_wait_for(const DeviceImages& images, const CudaArray& out) {
  std::vector<std::uintptr_t> streams = images.streams;
  streams.push_back(out.stream);
  return streams;
}

int parse_device(const std::string& device, const std::string& what) {
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) == 0 && device.size() > 5 && device.size() < 9 &&
      device.find_first_not_of("0123456789", 5) == std::string::npos)
    return std::stoi(device.substr(5));
  throw InvalidArgument(what + ": device must be 'cuda' or 'cuda:N', got '" + device + "'");
}


void check_finite(const std::array<float, 3>& v, const char* what) {
  for (float f : v)
    if (!std::isfinite(f)) throw InvalidArgument(std::string("cuda_preprocess_batch: ") + what + " must be finite");
}

// Frames in GPU memory -> float32 NCHW batch in GPU memory (`out`, e.g. the model input bound by IOBinding).
py::array_t<float> cuda_preprocess_batch(const py::handle& images, const py::handle& out,
                                         const std::string& channel_order, const std::array<float, 3>& mean,
                                         const std::array<float, 3>& scale, const std::string& fit,
                                         float pad_value, const std::string& device,
                                         const std::string& pixel_format, const std::string& color_space,
                                         bool full_range) {
  const int gpu = parse_device(device, "cuda_preprocess_batch");
  const SourceFormat format = source_format(pixel_format, color_space, full_range, "cuda_preprocess_batch");
  const DeviceImages imgs = device_images(images, "cuda_preprocess_batch: images", format);
  const auto n = static_cast<py::ssize_t>(imgs.views.size());
  const CudaArray o = cuda_array(out, "cuda_preprocess_batch: out", "<f4", 4);
  if (o.shape.size() != 4 || o.shape[0] != n || o.shape[1] != 3 || o.shape[2] <= 0 || o.shape[3] <= 0 ||
      o.shape[2] > kMaxSide || o.shape[3] > kMaxSide)
    throw InvalidArgument("cuda_preprocess_batch: out must have shape (" + std::to_string(n) +
                          ", 3, H, W) for these images, got " + shape_text(o.shape));
  if (o.strides[3] != 4 || o.strides[2] != 4 * o.shape[3] || o.strides[1] != o.strides[2] * o.shape[2] ||
      o.strides[0] != o.strides[1] * 3)
    throw InvalidArgument("cuda_preprocess_batch: out must be C-contiguous");
  if (o.readonly) throw InvalidArgument("cuda_preprocess_batch: out is read-only");
  if (channel_order != "rgb" && channel_order != "bgr")
    throw InvalidArgument("cuda_preprocess_batch: channel_order must be 'rgb' or 'bgr', got '" + channel_order + "'");
  check_finite(mean, "mean");
  check_finite(scale, "scale");
  vision::PreprocessOptions opt;
  opt.out_h = static_cast<int>(o.shape[2]);
  opt.out_w = static_cast<int>(o.shape[3]);
  opt.bgr = channel_order == "bgr";
  opt.mean = mean;
  opt.scale = scale;
  opt.fit = parse_fit(fit, "cuda_preprocess_batch");
  opt.pad_value = pad_value;
  py::array_t<float> transforms({n, py::ssize_t{4}});
  float* tr = transforms.mutable_data();
  {
    py::gil_scoped_release release;
    vision::cuda::preprocess_batch_from_device(imgs.views, streams_to_wait_for(imgs, o), opt,
                                               reinterpret_cast<float*>(o.data), tr, gpu);
  }
  return transforms;
}

// Frames in GPU memory -> M warped crops, into `out` (a (M,out_h,out_w,3) uint8 CUDA array) or, without
// out, into a new host array.
py::object cuda_warp_batch(const py::handle& images, const py::array& image_index, const py::array& matrices,
                           int out_h, int out_w, int border_value, const py::object& out, const std::string& device,
                           const std::string& pixel_format, const std::string& color_space, bool full_range) {
  const int gpu = parse_device(device, "cuda_warp_batch");
  const SourceFormat format = source_format(pixel_format, color_space, full_range, "cuda_warp_batch");
  if (out_h <= 0 || out_w <= 0 || out_h > kMaxSide || out_w > kMaxSide)
    throw InvalidArgument("cuda_warp_batch: output size " + std::to_string(out_h) + "x" + std::to_string(out_w) +
                          " is out of range");
  const std::uint8_t border = warp_border(border_value, "cuda_warp_batch");
  const DeviceImages imgs = device_images(images, "cuda_warp_batch: images", format);
  const WarpJobs jobs = warp_jobs(image_index, matrices, imgs.views.size(), "cuda_warp_batch");
  const auto m = static_cast<py::ssize_t>(jobs.matrices.size());
  if (out.is_none()) {
    py::array_t<std::uint8_t> host({m, py::ssize_t{out_h}, py::ssize_t{out_w}, py::ssize_t{3}});
    std::uint8_t* dst = host.mutable_data();
    {
      py::gil_scoped_release release;
      vision::cuda::warp_batch_from_device(imgs.views, imgs.streams, jobs.image_index, jobs.matrices, out_h, out_w, border, dst, false, gpu);
    }
    return std::move(host);
  }
  const CudaArray o = cuda_array(out, "cuda_warp_batch: out", "|u1", 1);
  const std::vector<py::ssize_t> want{m, out_h, out_w, 3};
  if (o.shape != want)
    throw InvalidArgument("cuda_warp_batch: out must have shape " + shape_text(want) + ", got " + shape_text(o.shape));
  if (o.strides[3] != 1 || o.strides[2] != 3 || o.strides[1] != 3 * out_w || o.strides[0] != 3 * out_w * out_h)
    throw InvalidArgument("cuda_warp_batch: out must be C-contiguous");
  if (o.readonly) throw InvalidArgument("cuda_warp_batch: out is read-only");
  {
    py::gil_scoped_release release;
    vision::cuda::warp_batch_from_device(imgs.views, streams_to_wait_for(imgs, o), jobs.image_index, jobs.matrices,
                                         out_h, out_w, border, reinterpret_cast<std::uint8_t*>(o.data), true, gpu);
  }
  return out;
}

}  // namespace

void bind_cuda_vision(py::module_& m) {
  m.def("cuda_preprocess_batch", &cuda_preprocess_batch, py::arg("images"), py::arg("out"), py::kw_only(),
        py::arg("channel_order") = "rgb", py::arg("mean") = std::array<float, 3>{0.f, 0.f, 0.f},
        py::arg("scale") = std::array<float, 3>{1.f, 1.f, 1.f}, py::arg("fit") = "letterbox_center",
        py::arg("pad_value") = 0.0f, py::arg("device") = "cuda", py::arg("pixel_format") = "rgb",
        py::arg("color_space") = "bt601", py::arg("full_range") = false,
        "preprocess_batch for frames already in GPU memory (a list of HxWx3 uint8 CUDA arrays, or one\n"
        "(N,H,W,3)), written into `out`, a float32 (N,3,H,W) CUDA array (e.g. the buffer ONNX Runtime reads).\n"
        "pixel_format='nv12': (H*3/2, W) NV12 CUDA arrays (or one (N, H*3/2, W)), converted with color_space\n"
        "and full_range in the same kernel, as preprocess_batch does.\n"
        "Returns the transforms (N,4) = scale_x, scale_y, pad_x, pad_y, as preprocess_batch does.");
  m.def("cuda_warp_batch", &cuda_warp_batch, py::arg("images"), py::arg("image_index"), py::arg("matrices"),
        py::arg("out_h"), py::arg("out_w"), py::kw_only(), py::arg("border_value") = 0, py::arg("out") = py::none(),
        py::arg("device") = "cuda", py::arg("pixel_format") = "rgb", py::arg("color_space") = "bt601",
        py::arg("full_range") = false,
        "warp_batch for frames already in GPU memory (NV12 sources with pixel_format='nv12'). With `out` (a uint8 (M,out_h,out_w,3) CUDA array) the\n"
        "crops stay on the GPU and `out` is returned; without it they come back as a numpy array.");
}

}  // namespace kuzet::bindings
