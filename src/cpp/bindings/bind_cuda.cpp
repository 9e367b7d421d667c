// kuzet._core GPU API: nvdec_info(), and DeviceArray - a frame in GPU memory that CuPy, PyTorch and
// others take without a copy through __cuda_array_interface__ (v3) or DLPack (__dlpack__, "dltensor").
//
// Synchronisation: kuzet synchronises its decode stream before it hands out a DeviceArray, so the data is
// complete on every stream; __cuda_array_interface__ therefore has "stream": None and __dlpack__ ignores
// the consumer's stream. Memory is released (stream-ordered, on the legacy default stream) when the last
// reference - the DeviceArray or a tensor made from it - is dropped; a consumer that reads it on a
// non-blocking stream must keep a reference until that work has finished, as with any CUDA allocation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <utility>

#include "bindings/bindings.hpp"
#include "common/device_array.hpp"
#include "common/dlpack.hpp"
#include "decode/cuda/convert_kernels.hpp"
#include "decode/decode_errors.hpp"
#include "decode/layout.hpp"
#include "decode/nvdec_support.hpp"
#include "decode/yuv_coeffs.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

using kuzet::decode::NvdecStatus;

std::string device_name(const DeviceArray& a) {
  return a.buffer()->host() ? "cpu" : "cuda:" + std::to_string(a.device());
}

py::dict nvdec_info() {
  NvdecStatus status;
  {
    py::gil_scoped_release release;  // the first call opens a CUDA device context
    status = kuzet::decode::nvdec_status();
  }
  py::dict d;
#ifdef KUZET_WITH_CUDA
  d["built"] = true;
#else
  d["built"] = false;
#endif
  d["available"] = status.available;
  d["reason"] = status.available ? py::object(py::none()) : py::object(py::str(status.reason));
  d["codecs"] = status.codecs;
  d["device_count"] = status.device_count;
  return d;
}

py::tuple as_tuple(const std::vector<int64_t>& v) {
  py::tuple t(v.size());
  for (size_t i = 0; i < v.size(); ++i) t[i] = v[i];
  return t;
}

py::dict cuda_array_interface_dict(const DeviceArray& a) {
  py::dict d;
  d["shape"] = as_tuple(a.shape());
  d["typestr"] = "|u1";
  d["descr"] = py::make_tuple(py::make_tuple("", "|u1"));
  d["data"] = py::make_tuple(a.data(), false);
  d["strides"] = py::none();  // C-contiguous
  d["version"] = 3;
  d["stream"] = py::none();  // complete before it was handed out: no synchronisation needed
  return d;
}

py::dict cuda_array_interface(const DeviceArray& a) {
  if (a.buffer()->host()) throw py::attribute_error("this DeviceArray is in host memory (a test buffer)");
  return cuda_array_interface_dict(a);
}

// What a DLPack capsule keeps alive: the GPU buffer and the shape/strides arrays DLTensor points at.
struct DlpackOwner {
  std::shared_ptr<DeviceBuffer> buffer;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // elements (uint8: same as bytes)
  DLManagedTensor tensor{};
};

void delete_dlpack_owner(DLManagedTensor* t) { delete static_cast<DlpackOwner*>(t->manager_ctx); }

void destroy_unconsumed_capsule(PyObject* capsule) {
  // A consumer renames the capsule to "used_dltensor" and takes over the deleter; otherwise it is ours.
  if (!PyCapsule_IsValid(capsule, "dltensor")) return;
  auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  if (t && t->deleter) t->deleter(t);
}

DLDevice dl_device_of(const DeviceArray& a) {
  return a.buffer()->host() ? DLDevice{kKuzetDLCPU, 0} : DLDevice{kKuzetDLCUDA, a.device()};
}

py::tuple dlpack_device(const DeviceArray& a) {
  const DLDevice d = dl_device_of(a);
  return py::make_tuple(d.device_type, d.device_id);
}

py::capsule to_dlpack(const DeviceArray& a, const py::object& stream, const py::object& max_version,
                      const py::object& dl_device, const py::object& copy) {
  (void)stream;       // the data is already complete (see the top of this file)
  (void)max_version;  // kuzet produces the unversioned capsule, which every DLPack consumer accepts
  if (!dl_device.is_none() && !dl_device.equal(dlpack_device(a))) {
    throw py::buffer_error("DeviceArray lives on " + device_name(a) + ", not on DLPack device " +
                           std::string(py::str(dl_device)) + "; use .numpy() for a host copy");
  }
  if (!copy.is_none() && copy.cast<bool>()) throw py::buffer_error("DeviceArray.__dlpack__ cannot copy (copy=True)");
  auto owner = std::make_unique<DlpackOwner>();
  owner->buffer = a.buffer();
  owner->shape = a.shape();
  owner->strides = a.strides_bytes();
  DLTensor& t = owner->tensor.dl_tensor;
  t.data = a.buffer()->data();
  t.device = dl_device_of(a);
  t.ndim = static_cast<int32_t>(owner->shape.size());
  t.dtype = DLDataType{kKuzetDLUInt, 8, 1};
  t.shape = owner->shape.data();
  t.strides = owner->strides.data();
  t.byte_offset = 0;
  owner->tensor.manager_ctx = owner.get();
  owner->tensor.deleter = &delete_dlpack_owner;
  PyObject* capsule = PyCapsule_New(&owner->tensor, "dltensor", &destroy_unconsumed_capsule);
  if (!capsule) throw py::error_already_set();
  owner.release();  // now owned by the capsule (or by the consumer that takes it)
  return py::reinterpret_steal<py::capsule>(capsule);
}

py::array to_numpy(const DeviceArray& a) {
  std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end());
  py::array_t<uint8_t> out(shape);
  void* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    a.copy_to_host(dst);
  }
  return std::move(out);
}

// numpy's reshape for a C-contiguous array: the same memory (shared, no copy) under another shape of the
// same size, one dimension may be -1. Used to view a flat NVDEC NV12 frame as (H*3/2, W), as on the CPU.
std::shared_ptr<DeviceArray> reshape(const DeviceArray& a, const py::args& args) {
  py::sequence dims = args;
  if (args.size() == 1 && py::isinstance<py::sequence>(args[0])) dims = args[0].cast<py::sequence>();
  std::vector<int64_t> shape;
  int64_t known = 1;
  int unknown = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    PyObject* index = PyNumber_Index(dims[i].ptr());  // ints and numpy integers, as numpy takes them
    if (index == nullptr) {
      PyErr_Clear();
      throw InvalidArgument("DeviceArray.reshape: dimensions must be integers");
    }
    const int64_t d = py::reinterpret_steal<py::int_>(index).cast<int64_t>();
    if (d == -1 && unknown < 0) {
      unknown = static_cast<int>(i);
    } else if (d < 0 || (d > 0 && known > std::numeric_limits<int64_t>::max() / d)) {
      throw InvalidArgument("DeviceArray.reshape: dimensions must be >= 0 (one may be -1) and fit in memory");
    } else {
      known *= d;
    }
    shape.push_back(d);
  }
  const auto size = static_cast<int64_t>(a.nbytes());
  if (unknown >= 0 && known != 0 && size % known == 0) {
    shape[static_cast<size_t>(unknown)] = size / known;
    known = size;
  }
  if (known != size || (unknown >= 0 && shape[static_cast<size_t>(unknown)] < 0)) {
    throw InvalidArgument("DeviceArray.reshape: cannot reshape " + std::to_string(size) + " elements into " +
                          py::str(py::tuple(dims)).cast<std::string>());
  }
  return std::make_shared<DeviceArray>(a.buffer(), std::move(shape));
}

std::string repr(const DeviceArray& a) {
  std::string s = "DeviceArray(shape=(";
  for (size_t i = 0; i < a.shape().size(); ++i) s += (i ? ", " : "") + std::to_string(a.shape()[i]);
  if (a.shape().size() == 1) s += ",";
  return s + "), dtype=uint8, device='" + device_name(a) + "')";
}

// Test hook: a DeviceArray over host memory holding a copy of `array`, for the DLPack/ownership tests on
// machines without a GPU (it goes through the same __dlpack__ code as a frame in GPU memory).
std::shared_ptr<DeviceArray> host_device_array(const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& array) {
  auto buffer = DeviceBuffer::on_host(static_cast<size_t>(array.nbytes()));
  if (array.nbytes() > 0) std::memcpy(buffer->data(), array.data(), static_cast<size_t>(array.nbytes()));
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  return std::make_shared<DeviceArray>(std::move(buffer), std::move(shape));
}

// Test hook: the GPU kernel's arithmetic run on the host over a packed NV12 frame (Y plane, then UV), or with
// sixteen_bit a packed P010/P016 frame (the same layout in little-endian 16-bit samples, value in the high bits).
py::array semi_planar_to_rgb_reference(const py::array_t<uint8_t, py::array::c_style>& nv12, int width, int height,
                                       const std::string& color_space, bool full_range, const std::string& layout,
                                       bool sixteen_bit) {
  using namespace kuzet::decode;
  if (width <= 0 || height <= 0) throw InvalidArgument("width and height must be positive");
  const size_t sample = sixteen_bit ? 2 : 1;
  const size_t luma = static_cast<size_t>(width) * static_cast<size_t>(height) * sample;
  const size_t chroma = static_cast<size_t>((width + 1) / 2) * 2 * static_cast<size_t>((height + 1) / 2) * sample;
  if (static_cast<size_t>(nv12.size()) != luma + chroma) {
    throw InvalidArgument(std::string("a ") + (sixteen_bit ? "P016" : "NV12") + " frame of " + std::to_string(width) +
                          "x" + std::to_string(height) + " has " + std::to_string(luma + chroma) + " bytes, got " +
                          std::to_string(nv12.size()));
  }
  const int space = av_color_space_from_name(color_space.c_str());
  if (space < 0) throw InvalidArgument("unknown colour space '" + color_space + "'");
  const Layout lay = parse_layout(layout);
  if (lay != Layout::Rgb && lay != Layout::Bgr && lay != Layout::RgbPlanar) {
    throw InvalidArgument("layout must be 'rgb', 'bgr' or 'rgb_planar', got '" + layout + "'");
  }
  cuda::SemiPlanarFrame src;
  src.y = nv12.data();
  src.uv = nv12.data() + luma;
  src.y_pitch = width * static_cast<int>(sample);
  src.uv_pitch = ((width + 1) / 2) * 2 * static_cast<int>(sample);
  src.width = width;
  src.height = height;
  src.sixteen_bit = sixteen_bit;
  const auto out = lay == Layout::Rgb ? cuda::RgbOutput::Rgb : lay == Layout::Bgr ? cuda::RgbOutput::Bgr
                                                                                   : cuda::RgbOutput::RgbPlanar;
  const FrameGeometry geo = frame_geometry(lay, width, height, AV_PIX_FMT_NV12);
  std::vector<py::ssize_t> shape(geo.shape.begin(), geo.shape.end());
  py::array_t<uint8_t> result(shape);
  uint8_t* dst = result.mutable_data();
  {
    py::gil_scoped_release release;
    cuda::convert_to_rgb_on_host(src, yuv_coeffs(static_cast<AVColorSpace>(space), full_range), out, dst);
  }
  return std::move(result);
}

}  // namespace

void bind_cuda_vision(py::module_& m);  // bind_cuda_vision.cpp: pre-processing of frames in GPU memory

void bind_cuda(py::module_& m) {
  m.def("nvdec_info", &nvdec_info,
        "NVDEC status: {'built', 'available', 'reason' (why not, else None), 'codecs' (FFmpeg decoders with a "
        "CUDA hw config), 'device_count'}");

  py::class_<DeviceArray, std::shared_ptr<DeviceArray>>(
      m, "DeviceArray",
      "A C-contiguous uint8 array in CUDA device memory (a decoded frame). Zero-copy to CuPy/PyTorch/... via "
      "__cuda_array_interface__ and DLPack; .numpy() copies it to the host. Complete when handed out.")
      .def_property_readonly("shape", [](const DeviceArray& a) { return as_tuple(a.shape()); })
      .def_property_readonly("strides", [](const DeviceArray& a) { return as_tuple(a.strides_bytes()); })
      .def_property_readonly("ndim", [](const DeviceArray& a) { return a.shape().size(); })
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("dtype", [](const DeviceArray&) { return py::dtype::of<uint8_t>(); })
      .def_property_readonly("device_id", &DeviceArray::device)
      .def_property_readonly("ptr", &DeviceArray::data, "the device address of the first element")
      .def_property_readonly("__cuda_array_interface__", &cuda_array_interface)
      .def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(),
           py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__", &dlpack_device)
      .def("numpy", &to_numpy, "A host copy as a numpy array.")
      .def("cpu", &to_numpy, "A host copy as a numpy array (same as .numpy()).")
      .def("reshape", &reshape,
           "The same memory (no copy) under another shape of the same size, as numpy's reshape (one "
           "dimension may be -1): e.g. a flat NV12 frame as (height * 3 // 2, width).")
      .def("__len__", [](const DeviceArray& a) { return a.shape().empty() ? 0 : a.shape()[0]; })
      .def("__repr__", &repr);

  m.def(
      "cuda_synchronize_stream",
      [](uintptr_t stream, int device) {
        if (stream == 0) throw InvalidArgument("stream 0 is not a __cuda_array_interface__ stream (v3)");
        if (device < 0) throw InvalidArgument("device must be >= 0, got " + std::to_string(device));
        py::gil_scoped_release release;
        synchronize_stream(stream, device);
      },
      py::arg("stream"), py::arg("device") = 0,
      "Waits for a CUDA stream given as __cuda_array_interface__ v3 gives it (1: legacy default, 2: per-thread)\n"
      "on `device`, the device of the data (1 and 2 name that device's default streams).");
  // A context manager (`with core.cuda_device_scope(n): ...`) over DeviceScope; entered and left on one thread.
  struct PyDeviceScope {
    int device;
    std::unique_ptr<DeviceScope> scope;
  };
  py::class_<PyDeviceScope>(m, "_CudaDeviceScope")
      .def("__enter__",
           [](PyDeviceScope& self) {
             py::gil_scoped_release release;  // the first selection of a device creates its context
             self.scope = std::make_unique<DeviceScope>(self.device);
           })
      .def("__exit__", [](PyDeviceScope& self, const py::args&) { self.scope.reset(); });
  m.def(
      "cuda_device_scope",
      [](int device) {
        if (device < 0) throw InvalidArgument("device must be >= 0, got " + std::to_string(device));
        return PyDeviceScope{device, nullptr};
      },
      py::arg("device"),
      "A context manager making CUDA device `device` current on this thread, then restoring the thread's\n"
      "previous device (or none): around onnxruntime's CUDA calls, which switch it and leave it switched.");
  m.def(
      "cuda_memory_place",
      [](std::uintptr_t address) {
        MemoryPlace place;
        {
          py::gil_scoped_release release;
          place = memory_place(reinterpret_cast<const void*>(address));
        }
        const char* kind = place.kind == MemoryKind::Device    ? "device"
                           : place.kind == MemoryKind::Managed ? "managed"
                           : place.kind == MemoryKind::PinnedHost ? "pinned_host"
                                                                  : "unregistered";
        return py::make_tuple(kind, place.device);
      },
      py::arg("address"),
      "(kind, device) of the memory at a pointer: 'device' (of that device), 'managed', 'pinned_host' or\n"
      "'unregistered' (pageable host memory, or an address CUDA does not know).");
  m.def("_host_device_array", &host_device_array, py::arg("array"),
        "Test hook: a DeviceArray in host memory (a copy of a uint8 array), for the DLPack tests without a GPU.");
  m.def("_host_device_buffers_alive", &DeviceBuffer::host_buffers_alive,
        "Test hook: how many host buffers of _host_device_array are still alive.");
  m.def("_cuda_array_interface_dict", &cuda_array_interface_dict, py::arg("array"),
        "Test hook: the __cuda_array_interface__ dict a DeviceArray gives (also for a host test array).");
  m.def("_semi_planar_to_rgb_reference", &semi_planar_to_rgb_reference, py::arg("nv12"), py::arg("width"),
        py::arg("height"), py::arg("color_space"), py::arg("full_range"), py::arg("layout"),
        py::arg("sixteen_bit") = false,
        "Test hook: the CUDA colour-conversion arithmetic, run on the host.");
  bind_cuda_vision(m);
}

}  // namespace kuzet::bindings
