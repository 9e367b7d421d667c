// Test and benchmark hook kuzet._core._yuv420_to_rgb: the RGB conversion of one 8-bit 4:2:0 frame with a
// chosen converter (ours at a given SIMD level, or the CPU device's swscale path), so tests can prove every
// pixel equal between them on real and random frames, and benchmarks can time them on the same input.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "decode/cpu_device.hpp"
#include "decode/layout.hpp"
#include "decode/yuv_coeffs.hpp"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

using namespace kuzet::decode;

struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

// A decoder-like frame (FFmpeg-allocated, padded rows) holding a copy of the tightly packed input.
std::unique_ptr<AVFrame, FrameFree> padded_frame(const uint8_t* packed, size_t bytes, AVPixelFormat format, int width,
                                                 int height) {
  const int need = av_image_get_buffer_size(format, width, height, 1);
  if (need < 0 || static_cast<size_t>(need) != bytes) {
    throw InvalidArgument(std::string("a ") + av_get_pix_fmt_name(format) + " frame of " + std::to_string(width) +
                          "x" + std::to_string(height) + " has " + std::to_string(need) + " bytes, got " +
                          std::to_string(bytes));
  }
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  if (!frame) throw Error("out of memory allocating a frame");
  frame->format = format;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) throw Error("out of memory allocating a frame");
  uint8_t* src[4] = {nullptr, nullptr, nullptr, nullptr};
  int src_stride[4] = {0, 0, 0, 0};
  av_image_fill_arrays(src, src_stride, packed, format, width, height, 1);
  av_image_copy(frame->data, frame->linesize, const_cast<const uint8_t**>(src), src_stride, format, width, height);
  return frame;
}

SimdLevel parse_simd(const std::string& name) {
  SimdLevel level;
  if (parse_simd_level(name.c_str(), level)) return level;
  throw InvalidArgument("converter must be 'auto', 'scalar', 'avx2', 'avx512' or 'swscale', got '" + name + "'");
}

py::array yuv420_to_rgb_hook(const py::array_t<uint8_t, py::array::c_style>& frame_bytes, int width, int height,
                             const std::string& pixel_format, const std::string& color_space, bool full_range,
                             const std::string& layout, const std::string& converter, int repeat) {
  if (width <= 0 || height <= 0) throw InvalidArgument("width and height must be positive");
  if (repeat < 1) throw InvalidArgument("repeat must be at least 1");
  const AVPixelFormat format = av_get_pix_fmt(pixel_format.c_str());
  if (format != AV_PIX_FMT_YUV420P && format != AV_PIX_FMT_YUVJ420P && format != AV_PIX_FMT_NV12) {
    throw InvalidArgument("pixel_format must be 'yuv420p', 'yuvj420p' or 'nv12', got '" + pixel_format + "'");
  }
  const int space = av_color_space_from_name(color_space.c_str());
  if (space < 0) throw InvalidArgument("unknown colour space '" + color_space + "'");
  const Layout lay = parse_layout(layout);
  if (lay != Layout::Rgb && lay != Layout::Bgr && lay != Layout::RgbPlanar) {
    throw InvalidArgument("layout must be 'rgb', 'bgr' or 'rgb_planar', got '" + layout + "'");
  }
  auto frame = padded_frame(frame_bytes.data(), static_cast<size_t>(frame_bytes.size()), format, width, height);
  frame->colorspace = static_cast<AVColorSpace>(space);
  frame->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  const FrameGeometry geo = frame_geometry(lay, width, height, format);
  std::vector<py::ssize_t> shape(geo.shape.begin(), geo.shape.end());
  py::array_t<uint8_t> result(shape);
  uint8_t* dst = result.mutable_data();
  if (converter == "swscale") {
    CpuDevice device;  // what the CPU device does with swscale
    device.use_swscale_for_rgb(true);
    py::gil_scoped_release release;
    for (int i = 0; i < repeat; ++i) device.convert(frame.get(), lay, dst);  // repeat: to time it alone
  } else {
    // Ours, on any 8-bit 4:2:0 frame (the CPU device itself uses it only where swscale's fast path would run).
    const SimdLevel level = parse_simd(converter);
    const Yuv420Frame src = CpuDevice::yuv420_planes(frame.get());
    const YuvCoeffs coeffs = yuv_coeffs(frame->colorspace, full_range);
    const RgbPacking packing = lay == Layout::Rgb ? RgbPacking::Rgb : lay == Layout::Bgr ? RgbPacking::Bgr
                                                                                       : RgbPacking::Planar;
    py::gil_scoped_release release;
    for (int i = 0; i < repeat; ++i) yuv420_to_rgb(src, coeffs, packing, dst, 0, height, level);
  }
  return std::move(result);
}

}  // namespace

// Called from bind_decode (bindings/bind_decode.cpp).
void bind_rgb_convert_hook(py::module_& m) {
  m.def("_yuv420_to_rgb", &yuv420_to_rgb_hook, py::arg("frame"), py::arg("width"), py::arg("height"),
        py::arg("pixel_format"), py::arg("color_space"), py::arg("full_range"), py::arg("layout"),
        py::arg("converter"), py::arg("repeat") = 1,
        "Test hook: the CPU device's RGB conversion of a tightly packed yuv420p/yuvj420p/nv12 frame with a chosen "
        "converter ('auto', 'scalar', 'avx2', 'avx512': ours; 'swscale'), `repeat` times (for timing).");
  m.def(
      "_cpu_simd_level", [] { return std::string(simd_level_name(best_simd_level())); },
      "The SIMD level kuzet's own CPU colour conversion uses on this machine.");
}

}  // namespace kuzet::bindings
