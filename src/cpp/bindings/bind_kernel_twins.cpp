// Test hooks: the CUDA kernels' per-pixel code run on the host (vision_on_host.cpp, convert_on_host.cpp), so
// tests compare the kernels' arithmetic with the CPU implementations on machines without a GPU. The vision
// hooks take the arguments of the CPU preprocess_batch / warp_batch (less out, threads and device).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/preprocess_arguments.hpp"
#include "bindings/warp_arguments.hpp"
#include "common/errors.hpp"
#include "decode/cuda/convert_kernels.hpp"
#include "preprocess/cuda/vision_on_host.hpp"
#include "preprocess/numpy_images.hpp"
#include "preprocess/yuv_matrix.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {




vision::NumpyImages sources(const py::handle& images, const std::string& pixel_format,
                            const std::string& color_space, bool full_range, const std::string& fn) {
  const std::string what = fn + ": images";
  if (pixel_format == "rgb") return vision::images_from_python(images, what.c_str());
  if (pixel_format == "nv12")
    return vision::nv12_images_from_python(images, what.c_str(), vision::yuv_matrix(color_space, full_range, fn));
  throw InvalidArgument(fn + ": pixel_format must be 'rgb' or 'nv12', got '" + pixel_format + "'");
}

vision::cuda::SourceLayout source_layout(bool in_place) {
  return in_place ? vision::cuda::SourceLayout::InPlace : vision::cuda::SourceLayout::Packed;
}

py::tuple preprocess_kernel_on_host(const py::handle& images, int out_h, int out_w, const std::string& channel_order,
                                    const py::handle& mean, const py::handle& scale, const std::string& fit,
                                    float pad_value, const std::string& pixel_format, const std::string& color_space,
                                    bool full_range, bool in_place) {
  const std::string fn = "_preprocess_kernel_on_host";
  check_output_size(out_h, out_w, fn);
  if (channel_order != "rgb" && channel_order != "bgr")
    throw InvalidArgument(fn + ": channel_order must be 'rgb' or 'bgr', got '" + channel_order + "'");
  vision::PreprocessOptions opt;
  opt.out_h = out_h;
  opt.out_w = out_w;
  opt.bgr = channel_order == "bgr";
  opt.mean = three_floats(mean, fn, "mean");
  opt.scale = three_floats(scale, fn, "scale");
  opt.fit = parse_fit(fit, fn);
  opt.pad_value = pad_value;
  const auto imgs = sources(images, pixel_format, color_space, full_range, fn);
  const auto n = static_cast<py::ssize_t>(imgs.views.size());
  py::array_t<float> batch({n, py::ssize_t{3}, py::ssize_t{out_h}, py::ssize_t{out_w}});
  py::array_t<float> transforms({n, py::ssize_t{4}});
  float* dst = batch.mutable_data();
  float* tr = transforms.mutable_data();
  {
    py::gil_scoped_release release;
    vision::cuda::preprocess_batch_on_host(imgs.views, opt, dst, tr, source_layout(in_place));
  }
  return py::make_tuple(batch, transforms);
}

py::array_t<std::uint8_t> warp_kernel_on_host(const py::handle& images, const py::array& image_index,
                                              const py::array& matrices, int out_h, int out_w, int border_value,
                                              const std::string& pixel_format, const std::string& color_space,
                                              bool full_range, bool in_place) {
  const std::string fn = "_warp_kernel_on_host";
  check_output_size(out_h, out_w, fn);
  const std::uint8_t border = warp_border(border_value, fn);
  const auto imgs = sources(images, pixel_format, color_space, full_range, fn);
  const WarpJobs jobs = warp_jobs(image_index, matrices, imgs.views.size(), fn);
  const auto m = static_cast<py::ssize_t>(jobs.matrices.size());
  py::array_t<std::uint8_t> out({m, py::ssize_t{out_h}, py::ssize_t{out_w}, py::ssize_t{3}});
  std::uint8_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    vision::cuda::warp_batch_on_host(imgs.views, jobs.image_index, jobs.matrices, out_h, out_w, border, dst,
                                     source_layout(in_place));
  }
  return out;
}

// A packed semi-planar frame (luma rows, then (H+1)/2 rows of (W+1)/2 U,V pairs; uint8 NV12 or uint16
// P010/P016 samples) repacked by the to_yuv420 kernel's code into yuv420p (interleaved_uv=False) or nv12.
py::array_t<std::uint8_t> yuv420_kernel_on_host(const py::array& frame, int width, int height, bool interleaved_uv) {
  const std::string fn = "_yuv420_kernel_on_host";
  constexpr int kMaxSide = 1 << 14;
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    throw InvalidArgument(fn + ": width and height must be in 1.." + std::to_string(kMaxSide));
  const bool sixteen_bit = frame.dtype().kind() == 'u' && frame.itemsize() == 2;
  if (!(frame.dtype().kind() == 'u' && (frame.itemsize() == 1 || sixteen_bit)))
    throw InvalidArgument(fn + ": frame must be uint8 (NV12) or uint16 (P010/P016) samples");
  if (!(frame.flags() & py::array::c_style)) throw InvalidArgument(fn + ": frame must be C-contiguous");
  const auto cw = static_cast<py::ssize_t>((width + 1) / 2), ch = static_cast<py::ssize_t>((height + 1) / 2);
  const py::ssize_t luma = static_cast<py::ssize_t>(width) * height;
  if (frame.size() != luma + 2 * cw * ch)
    throw InvalidArgument(fn + ": a " + std::to_string(width) + "x" + std::to_string(height) +
                          " semi-planar frame has " + std::to_string(luma + 2 * cw * ch) + " samples, got " +
                          std::to_string(frame.size()));
  decode::cuda::SemiPlanarFrame src;
  const auto* base = static_cast<const std::uint8_t*>(frame.data());
  const int sample = sixteen_bit ? 2 : 1;
  src.y = base;
  src.uv = base + luma * sample;
  src.y_pitch = width * sample;
  src.uv_pitch = static_cast<int>(2 * cw) * sample;
  src.width = width;
  src.height = height;
  src.sixteen_bit = sixteen_bit;
  py::array_t<std::uint8_t> out(luma + 2 * cw * ch);
  std::uint8_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    decode::cuda::convert_to_yuv420_on_host(src, interleaved_uv, dst);
  }
  return out;
}

}  // namespace

void bind_kernel_twins(py::module_& m) {
  m.def("_preprocess_kernel_on_host", &preprocess_kernel_on_host, py::arg("images"), py::arg("out_h"),
        py::arg("out_w"), py::kw_only(), py::arg("channel_order") = "rgb",
        py::arg("mean") = py::make_tuple(0.0, 0.0, 0.0), py::arg("scale") = py::make_tuple(1.0, 1.0, 1.0),
        py::arg("fit") = "letterbox_center", py::arg("pad_value") = 0.0f, py::arg("pixel_format") = "rgb",
        py::arg("color_space") = "bt601", py::arg("full_range") = false, py::arg("in_place") = false,
        "Test hook: the CUDA preprocess kernel's per-pixel code run on the host, with preprocess_batch's\n"
        "arguments; returns (batch, transforms). in_place=True reads the sources with their own strides (as\n"
        "cuda_preprocess_batch reads device frames) instead of packed (as preprocess_batch(device='cuda') uploads).");
  m.def("_warp_kernel_on_host", &warp_kernel_on_host, py::arg("images"), py::arg("image_index"), py::arg("matrices"),
        py::arg("out_h"), py::arg("out_w"), py::kw_only(), py::arg("border_value") = 0, py::arg("pixel_format") = "rgb",
        py::arg("color_space") = "bt601", py::arg("full_range") = false, py::arg("in_place") = false,
        "Test hook: the CUDA warp kernel's per-pixel code run on the host, with warp_batch's arguments.");
  m.def("_yuv420_kernel_on_host", &yuv420_kernel_on_host, py::arg("frame"), py::arg("width"), py::arg("height"),
        py::kw_only(), py::arg("interleaved_uv"),
        "Test hook: the CUDA to_yuv420 kernel's code run on the host over a packed semi-planar frame (uint8 NV12\n"
        "or uint16 P010/P016); returns the flat 8-bit yuv420p (or nv12 when interleaved_uv) frame.");
}

}  // namespace kuzet::bindings
