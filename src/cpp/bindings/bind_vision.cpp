// kuzet._core vision primitives shared by the face and plate pipelines: batched pre-processing into model
// inputs, batched warps (alignment / rectification), NMS, and the face detectors' output decoders.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstring>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/preprocess_arguments.hpp"
#include "bindings/warp_arguments.hpp"
#include "common/device_array.hpp"
#include "common/errors.hpp"
#include "detect/face_decode.hpp"
#include "detect/nms.hpp"
#include "common/simd.hpp"
#include "preprocess/cuda/vision_cuda.hpp"
#include "preprocess/numpy_images.hpp"
#include "preprocess/preprocess.hpp"
#include "preprocess/similarity.hpp"
#include "preprocess/warp.hpp"
#include "preprocess/yuv_matrix.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

using vision::Fit;


// device="cpu" (-1) or "cuda" / "cuda:N" (N): the CUDA twins run the same pixel work on a GPU.
int parse_device(const std::string& device, const char* what) {
  if (device == "cpu") return -1;
  if (device == "cuda") return 0;
  if (device.rfind("cuda:", 0) == 0 && device.size() > 5 && device.size() < 9 &&
      device.find_first_not_of("0123456789", 5) == std::string::npos)
    return std::stoi(device.substr(5));
  throw InvalidArgument(std::string(what) + ": device must be 'cpu', 'cuda' or 'cuda:N', got '" + device + "'");
}

// Device pointer of a CUDA array (__cuda_array_interface__) of float32 with shape (n,3,h,w), C-contiguous;
// `stream`: the producer's stream named by the interface (v3), 0 when none.
float* cuda_output(const py::object& out, py::ssize_t n, int h, int w, std::uintptr_t& stream) {
  py::dict cai = out.attr("__cuda_array_interface__");
  const auto shape = cai["shape"].cast<std::vector<py::ssize_t>>();
  const std::vector<py::ssize_t> want{n, 3, h, w};
  const bool contiguous = !cai.contains("strides") || cai["strides"].is_none();
  if (shape != want || cai["typestr"].cast<std::string>() != "<f4" || !contiguous)
    throw InvalidArgument("preprocess_batch: out (CUDA array) must be C-contiguous float32 of shape (" +
                          std::to_string(n) + ", 3, " + std::to_string(h) + ", " + std::to_string(w) + ")");
  auto data = cai["data"].cast<py::tuple>();
  if (data[1].cast<bool>()) throw InvalidArgument("preprocess_batch: out (CUDA array) is read-only");
  stream = cai.contains("stream") && !cai["stream"].is_none() ? cai["stream"].cast<std::uintptr_t>() : 0;
  return reinterpret_cast<float*>(data[0].cast<std::uintptr_t>());
}

// The simd= argument of the pixel functions (tests and benchmarks compare the levels; all give the same bytes).
SimdLevel simd_level(const std::string& name, const char* what) {
  SimdLevel level;
  if (!parse_simd_level(name.c_str(), level))
    throw InvalidArgument(std::string(what) + ": simd must be 'auto', 'scalar', 'avx2' or 'avx512', got '" + name +
                          "'");
  return level;
}

unsigned thread_count(int threads, const char* what) {
  if (threads < 0 || threads > 1024)
    throw InvalidArgument(std::string(what) + ": threads must be 0 (automatic) or 1..1024, got " +
                          std::to_string(threads));
  return static_cast<unsigned>(threads);
}



// The `images` argument as views: RGB arrays, or NV12 frames converted with the named colour space and range.
vision::NumpyImages source_images(const py::handle& images, const std::string& pixel_format,
                                  const std::string& color_space, bool full_range, const char* what) {
  const std::string fn = std::string(what).substr(0, std::string(what).find(':'));
  if (pixel_format == "rgb") return vision::images_from_python(images, what);
  if (pixel_format == "nv12")
    return vision::nv12_images_from_python(images, what, vision::yuv_matrix(color_space, full_range, fn));
  throw InvalidArgument(fn + ": pixel_format must be 'rgb' or 'nv12', got '" + pixel_format + "'");
}

py::tuple preprocess_batch(const py::handle& images, int out_h, int out_w, const std::string& channel_order,
                           const py::handle& mean, const py::handle& scale, const std::string& fit,
                           float pad_value, const py::object& out, int threads, const std::string& device,
                           const std::string& pixel_format, const std::string& color_space, bool full_range,
                           const std::string& simd) {
  const unsigned nthreads = thread_count(threads, "preprocess_batch");
  const int gpu = parse_device(device, "preprocess_batch");
  const SimdLevel level = simd_level(simd, "preprocess_batch");
  check_output_size(out_h, out_w, "preprocess_batch");
  vision::PreprocessOptions opt;
  opt.out_h = out_h;
  opt.out_w = out_w;
  if (channel_order != "rgb" && channel_order != "bgr")
    throw InvalidArgument("preprocess_batch: channel_order must be 'rgb' or 'bgr', got '" + channel_order + "'");
  opt.bgr = channel_order == "bgr";
  opt.mean = three_floats(mean, "preprocess_batch", "mean");
  opt.scale = three_floats(scale, "preprocess_batch", "scale");
  opt.fit = parse_fit(fit, "preprocess_batch");
  opt.pad_value = pad_value;
  auto imgs = source_images(images, pixel_format, color_space, full_range, "preprocess_batch: images");
  const auto n = static_cast<py::ssize_t>(imgs.views.size());

  if (gpu >= 0 && !out.is_none() && py::hasattr(out, "__cuda_array_interface__")) {
    std::uintptr_t producer = 0;
    float* device_out = cuda_output(out, n, out_h, out_w, producer);  // e.g. the buffer ONNX Runtime reads
    py::array_t<float> transforms({n, py::ssize_t{4}});
    float* tr = transforms.mutable_data();
    {
      py::gil_scoped_release release;
      if (producer != 0) synchronize_stream(producer, gpu);  // its producer may still be using `out`
      vision::cuda::preprocess_batch(imgs.views, opt, device_out, true, tr, gpu);
    }
    return py::make_tuple(out, transforms);
  }
  py::array_t<float> batch;
  if (out.is_none()) {
    batch = py::array_t<float>({n, py::ssize_t{3}, py::ssize_t{out_h}, py::ssize_t{out_w}});
  } else {
    if (!py::isinstance<py::array>(out)) throw InvalidArgument("preprocess_batch: out must be a numpy array");
    auto o = py::reinterpret_borrow<py::array>(out);
    const bool ok_type = o.dtype().kind() == 'f' && o.itemsize() == 4;
    const bool ok_shape = o.ndim() == 4 && o.shape(0) == n && o.shape(1) == 3 && o.shape(2) == out_h &&
                          o.shape(3) == out_w;
    if (!ok_type || !ok_shape)
      throw InvalidArgument("preprocess_batch: out must be float32 of shape (" + std::to_string(n) + ", 3, " +
                            std::to_string(out_h) + ", " + std::to_string(out_w) + ")");
    if (!(o.flags() & py::array::c_style) || !o.writeable())
      throw InvalidArgument("preprocess_batch: out must be C-contiguous and writeable");
    batch = py::reinterpret_borrow<py::array_t<float>>(o);
  }
  py::array_t<float> transforms({n, py::ssize_t{4}});
  float* dst = batch.mutable_data();
  float* tr = transforms.mutable_data();
  {
    py::gil_scoped_release release;
    if (gpu >= 0)
      vision::cuda::preprocess_batch(imgs.views, opt, dst, false, tr, gpu);
    else
      vision::preprocess_batch(imgs.views, opt, dst, tr, nthreads, level);
  }
  return py::make_tuple(batch, transforms);
}

py::array_t<std::uint8_t> warp_batch(const py::handle& images, const py::array& image_index,
                                     const py::array& matrices, int out_h, int out_w, int border_value,
                                     int threads, const std::string& device, const std::string& pixel_format,
                                     const std::string& color_space, bool full_range, const std::string& simd) {
  const unsigned nthreads = thread_count(threads, "warp_batch");
  const SimdLevel level = simd_level(simd, "warp_batch");
  const int gpu = parse_device(device, "warp_batch");
  check_output_size(out_h, out_w, "warp_batch");
  const std::uint8_t border = warp_border(border_value, "warp_batch");
  auto imgs = source_images(images, pixel_format, color_space, full_range, "warp_batch: images");
  const WarpJobs jobs = warp_jobs(image_index, matrices, imgs.views.size(), "warp_batch");
  const auto m = static_cast<py::ssize_t>(jobs.matrices.size());
  py::array_t<std::uint8_t> out({m, py::ssize_t{out_h}, py::ssize_t{out_w}, py::ssize_t{3}});
  std::uint8_t* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (gpu >= 0)
      vision::cuda::warp_batch(imgs.views, jobs.image_index, jobs.matrices, out_h, out_w, border, dst, gpu);
    else
      vision::warp_batch(imgs.views, jobs.image_index, jobs.matrices, out_h, out_w, border, dst, nthreads, level);
  }
  return out;
}

py::array_t<double> alignment_matrices(const py::array& landmarks, const py::array& template_points) {
  if (template_points.ndim() != 2 || template_points.shape(1) != 2 || template_points.shape(0) < 2 ||
      template_points.dtype().kind() != 'f')
    throw InvalidArgument("alignment_matrices: template must be a float (P,2) array of at least 2 points");
  const auto points = template_points.shape(0);
  if (landmarks.ndim() != 3 || landmarks.shape(1) != points || landmarks.shape(2) != 2 ||
      landmarks.dtype().kind() != 'f')
    throw InvalidArgument("alignment_matrices: landmarks must be a float (M," + std::to_string(points) +
                          ",2) array, one set of points per face");
  auto src = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(landmarks);
  auto tmpl = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(template_points);
  const auto m = landmarks.shape(0);
  const std::vector<vision::Matrix3> mats =
      vision::alignment_matrices(src.data(), static_cast<std::size_t>(m), static_cast<std::size_t>(points),
                                 tmpl.data());
  py::array_t<double> out({m, py::ssize_t{3}, py::ssize_t{3}});
  if (m > 0) std::memcpy(out.mutable_data(), mats.data(), mats.size() * sizeof(vision::Matrix3));
  return out;
}

py::array_t<std::int64_t> nms(const py::array& boxes, const py::array& scores, float iou_threshold,
                              const py::object& groups) {
  if (boxes.ndim() != 2 || boxes.shape(1) != 4 || boxes.dtype().kind() != 'f')
    throw InvalidArgument("nms: boxes must be a float (K,4) array of x1,y1,x2,y2");
  const auto k = boxes.shape(0);
  if (scores.ndim() != 1 || scores.shape(0) != k || scores.dtype().kind() != 'f')
    throw InvalidArgument("nms: scores must be a float (K,) array matching boxes");
  if (!(iou_threshold >= 0.f && iou_threshold <= 1.f))
    throw InvalidArgument("nms: iou_threshold must be in [0, 1]");
  auto b = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(boxes);
  auto s = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(scores);
  py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> g;
  if (!groups.is_none()) {
    auto ga = py::reinterpret_borrow<py::array>(groups);
    if (!py::isinstance<py::array>(groups) || ga.ndim() != 1 || ga.shape(0) != k ||
        (ga.dtype().kind() != 'i' && ga.dtype().kind() != 'u'))
      throw InvalidArgument("nms: groups must be an integer (K,) array");
    // Group ids are compared as int32: a larger id would wrap onto another group's and suppress its boxes.
    auto out_of_range = [](py::ssize_t i) {
      return InvalidArgument("nms: groups[" + std::to_string(i) + "] is outside the int32 range of group ids");
    };
    if (ga.dtype().kind() == 'u') {
      const auto u = py::array_t<std::uint64_t, py::array::forcecast>::ensure(ga);
      for (py::ssize_t i = 0; i < k; ++i)
        if (u.at(i) > static_cast<std::uint64_t>(INT32_MAX)) throw out_of_range(i);
    } else {
      const auto w = py::array_t<std::int64_t, py::array::forcecast>::ensure(ga);
      for (py::ssize_t i = 0; i < k; ++i)
        if (w.at(i) < INT32_MIN || w.at(i) > INT32_MAX) throw out_of_range(i);
    }
    g = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>::ensure(ga);
  }
  for (py::ssize_t i = 0; i < k; ++i)
    if (!std::isfinite(s.at(i))) throw InvalidArgument("nms: scores[" + std::to_string(i) + "] is not finite");
  std::vector<std::int64_t> kept;
  {
    py::gil_scoped_release release;
    kept = vision::nms(b.data(), s.data(), groups.is_none() ? nullptr : g.data(), static_cast<size_t>(k),
                       iou_threshold);
  }
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(kept.size()));
  std::copy(kept.begin(), kept.end(), out.mutable_data());
  return out;
}

vision::FaceFamily parse_family(const std::string& family, std::vector<std::string>& names) {
  names.clear();
  if (family == "yunet") {
    for (const char* s : {"8", "16", "32"})
      for (const char* k : {"cls_", "obj_", "bbox_", "kps_"}) names.push_back(std::string(k) + s);
    return vision::FaceFamily::YuNet;
  }
  if (family == "scrfd") {
    for (const char* s : {"8", "16", "32"})
      for (const char* k : {"score_", "bbox_", "kps_"}) names.push_back(std::string(k) + s);
    return vision::FaceFamily::Scrfd;
  }
  if (family == "retinaface") {
    names = {"loc", "conf", "iou"};
    return vision::FaceFamily::RetinaFace;
  }
  throw InvalidArgument("decode_faces: unknown face detector family '" + family +
                        "' (expected yunet, scrfd or retinaface)");
}

// Decodes a batch of face detector outputs; returns (image_index int32 (K,), boxes (K,4), scores (K,),
// landmarks (K,5,2)) in original image coordinates, grouped by image, best first within an image.
py::tuple decode_faces(const std::string& family, const py::dict& outputs, int input_h, int input_w,
                       const py::array& transforms, float score_threshold, float nms_iou, int max_faces,
                       int threads) {
  const unsigned nthreads = thread_count(threads, "decode_faces");
  std::vector<std::string> names;
  const auto fam = parse_family(family, names);
  check_output_size(input_h, input_w, "decode_faces");
  if (transforms.ndim() != 2 || transforms.shape(1) != 4 || transforms.dtype().kind() != 'f')
    throw InvalidArgument("decode_faces: transforms must be a float (N,4) array from preprocess_batch");
  if (!(nms_iou >= 0.f && nms_iou <= 1.f)) throw InvalidArgument("decode_faces: nms_iou must be in [0, 1]");
  if (!std::isfinite(score_threshold)) throw InvalidArgument("decode_faces: score_threshold must be finite");
  const auto n = transforms.shape(0);
  auto tr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(transforms);
  std::vector<vision::InputTransform> tv(static_cast<size_t>(n));
  for (py::ssize_t i = 0; i < n; ++i) {
    tv[static_cast<size_t>(i)] = {tr.at(i, 0), tr.at(i, 1), tr.at(i, 2), tr.at(i, 3)};
    if (!(tr.at(i, 0) > 0.f && tr.at(i, 1) > 0.f))
      throw InvalidArgument("decode_faces: transforms[" + std::to_string(i) + "] has a non-positive scale");
  }
  const auto rows = vision::expected_rows(fam, input_h, input_w);
  const auto cols = vision::expected_cols(fam);
  std::vector<py::array_t<float>> owners;
  std::vector<std::vector<vision::Tensor2D>> per_image(static_cast<size_t>(n));
  for (size_t j = 0; j < names.size(); ++j) {
    const std::string what = "decode_faces: " + family + " output '" + names[j] + "'";
    if (!outputs.contains(names[j])) throw InvalidArgument(what + " is missing");
    py::object obj = outputs[names[j].c_str()];
    if (!py::isinstance<py::array>(obj)) throw InvalidArgument(what + " is not a numpy array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.dtype().kind() != 'f') throw InvalidArgument(what + " is not a float array");
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
    if (a.ndim() != 3 || a.shape(0) != n || a.shape(1) != rows[j] || a.shape(2) != cols[j])
      throw InvalidArgument(what + " has the wrong shape for a batch of " + std::to_string(n) + " at " +
                            std::to_string(input_h) + "x" + std::to_string(input_w) + ": expected (" +
                            std::to_string(n) + ", " + std::to_string(rows[j]) + ", " + std::to_string(cols[j]) +
                            ")");
    for (py::ssize_t i = 0; i < n; ++i)
      per_image[static_cast<size_t>(i)].push_back({a.data(i, 0, 0), static_cast<long>(rows[j]),
                                                   static_cast<long>(cols[j])});
    owners.push_back(a);
  }
  std::vector<vision::FaceCandidates> faces;
  {
    py::gil_scoped_release release;
    faces = vision::postprocess_faces(fam, per_image, input_h, input_w, tv, score_threshold, nms_iou, max_faces,
                                      nthreads);
  }
  py::ssize_t k = 0;
  for (const auto& f : faces) k += static_cast<py::ssize_t>(f.size());
  py::array_t<std::int32_t> index(k);
  py::array_t<float> boxes({k, py::ssize_t{4}});
  py::array_t<float> scores(k);
  py::array_t<float> landmarks({k, py::ssize_t{5}, py::ssize_t{2}});
  auto* pi = index.mutable_data();
  auto* pb = boxes.mutable_data();
  auto* ps = scores.mutable_data();
  auto* pl = landmarks.mutable_data();
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    std::fill(pi, pi + f.size(), static_cast<std::int32_t>(i));
    pi += f.size();
    pb = std::copy(f.boxes.begin(), f.boxes.end(), pb);
    ps = std::copy(f.scores.begin(), f.scores.end(), ps);
    pl = std::copy(f.landmarks.begin(), f.landmarks.end(), pl);
  }
  return py::make_tuple(index, boxes, scores, landmarks);
}

}  // namespace

void bind_vision(py::module_& m) {
  m.def("preprocess_batch", &preprocess_batch, py::arg("images"), py::arg("out_h"), py::arg("out_w"), py::kw_only(),
        py::arg("channel_order") = "rgb", py::arg("mean") = py::make_tuple(0.0, 0.0, 0.0),
        py::arg("scale") = py::make_tuple(1.0, 1.0, 1.0), py::arg("fit") = "letterbox_center",
        py::arg("pad_value") = 0.0f, py::arg("out") = py::none(), py::arg("threads") = 0, py::arg("device") = "cpu",
        py::arg("pixel_format") = "rgb", py::arg("color_space") = "bt601", py::arg("full_range") = false,
        py::arg("simd") = "auto",
        "Resize, reorder and normalise RGB uint8 images into a float32 NCHW batch in one pass per image.\n"
        "Returns (batch (N,3,out_h,out_w), transforms (N,4) = scale_x, scale_y, pad_x, pad_y) with\n"
        "orig_x = (model_x - pad_x) / scale_x. threads: native threads, 0 = one per CPU (or KUZET_NUM_THREADS).\n"
        "device='cuda[:N]' runs the CUDA twin; out may then be a CUDA array (__cuda_array_interface__).\n"
        "pixel_format='nv12': images are NV12 frames (H*3/2, W) uint8 (even H, W), converted to RGB in the same\n"
        "pass with color_space ('bt601', 'bt709' or a VideoReader metadata.color_space) and full_range.\n"
        "simd: 'auto' (the widest vector code this CPU has) or a named level, as in warp_batch: the same bits.");
  m.def("warp_batch", &warp_batch, py::arg("images"), py::arg("image_index"), py::arg("matrices"), py::arg("out_h"),
        py::arg("out_w"), py::kw_only(), py::arg("border_value") = 0, py::arg("threads") = 0,
        py::arg("device") = "cpu", py::arg("pixel_format") = "rgb", py::arg("color_space") = "bt601",
        py::arg("full_range") = false, py::arg("simd") = "auto",
        "Bilinear warp of M crops: matrices (M,3,3) map output pixel coordinates to source coordinates of\n"
        "images[image_index[k]]. Returns uint8 RGB (M,out_h,out_w,3). pixel_format='nv12': the sources are\n"
        "NV12 frames (H*3/2, W) converted with color_space / full_range, as in preprocess_batch.\n"
        "simd: 'auto' (the widest vector code this CPU has) or a named level ('scalar', 'avx2'), for tests and\n"
        "benchmarks: every level gives the same bytes.");
  m.def("alignment_matrices", &alignment_matrices, py::arg("landmarks"), py::arg("template"),
        "Inverse maps (M,3,3), crop pixel -> source pixel, for warp_batch: the least-squares similarity taking\n"
        "each face's landmarks (M,P,2) onto the template (P,2), inverted. InvalidArgument names a face whose\n"
        "points all coincide.");
  m.def("nms", &nms, py::arg("boxes"), py::arg("scores"), py::arg("iou_threshold"), py::kw_only(),
        py::arg("groups") = py::none(),
        "Greedy NMS; returns int64 indices kept, by descending score. Different groups never suppress each "
        "other.");
  m.def("decode_faces", &decode_faces, py::arg("family"), py::arg("outputs"), py::arg("input_h"),
        py::arg("input_w"), py::arg("transforms"), py::kw_only(), py::arg("score_threshold") = 0.6f,
        py::arg("nms_iou") = 0.3f, py::arg("max_faces") = 0, py::arg("threads") = 0,
        "Decode a batch of YuNet / SCRFD / RetinaFace outputs (dict name -> array): threshold, per-image NMS,\n"
        "map back with the preprocess transforms. Returns (image_index int32 (K,), boxes float32 (K,4),\n"
        "scores float32 (K,), landmarks float32 (K,5,2)), grouped by image, best first.");
}

}  // namespace kuzet::bindings
