#include "preprocess/cuda/vision_setup.hpp"

#include "common/errors.hpp"

namespace kuzet::vision::cuda {

std::size_t packed_image_bytes(const ImageView& img) {
  const auto rows = static_cast<std::size_t>(img.height), w = static_cast<std::size_t>(img.width);
  return img.format == PixelFormat::Nv12 ? w * rows + w * (rows / 2) : w * 3 * rows;
}

std::size_t packed_bytes(const std::vector<ImageView>& images) {
  std::size_t total = 0;
  for (const auto& img : images) total += packed_image_bytes(img);
  return total;
}

std::vector<DeviceImage> packed_layout(const std::vector<ImageView>& images, const std::uint8_t* base) {
  std::vector<DeviceImage> layout;
  layout.reserve(images.size());
  std::size_t offset = 0;
  for (const auto& img : images) {
    const bool nv12 = img.format == PixelFormat::Nv12;
    const std::size_t row = static_cast<std::size_t>(img.width) * (nv12 ? 1 : 3);
    DeviceImage d{base + offset, static_cast<long long>(row), img.height, img.width, nv12 ? 1 : 0, nullptr, 0,
                  img.yuv};
    if (nv12) {
      d.uv = base + offset + row * static_cast<std::size_t>(img.height);
      d.uv_stride = static_cast<long long>(row);
    }
    layout.push_back(d);
    offset += packed_image_bytes(img);
  }
  return layout;
}

std::vector<DeviceImage> in_place_layout(const std::vector<ImageView>& images) {
  std::vector<DeviceImage> layout;
  layout.reserve(images.size());
  for (const auto& img : images)
    layout.push_back({img.data, static_cast<long long>(img.row_stride), img.height, img.width,
                      img.format == PixelFormat::Nv12 ? 1 : 0, img.uv, static_cast<long long>(img.uv_stride), img.yuv});
  return layout;
}

namespace {

// Appends the `out` taps of a resize from `in` samples; returns where they start.
long long append_taps(int in, int out, std::vector<Tap>& taps) {
  const auto start = static_cast<long long>(taps.size());
  for (int d = 0; d < out; ++d) taps.push_back(resize_tap(d, in, out));
  return start;
}

}  // namespace

Plans plan_all(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* transforms) {
  Plans plans;
  plans.params.resize(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageView& img = images[i];
    const ResizePlan p = plan_resize(img.height, img.width, opt);
    PlanParams& q = plans.params[i];
    q = {p.new_w, p.new_h, p.pad_x, p.pad_y, 0, 0, 0, 0};
    q.x_taps = append_taps(img.width, p.new_w, plans.taps);
    q.y_taps = append_taps(img.height, p.new_h, plans.taps);
    if (img.format == PixelFormat::Nv12) {
      q.chroma_x_taps = append_taps(img.width / 2, p.new_w, plans.taps);
      q.chroma_y_taps = append_taps(img.height / 2, p.new_h, plans.taps);
    }
    transforms[4 * i + 0] = p.scale_x;
    transforms[4 * i + 1] = p.scale_y;
    transforms[4 * i + 2] = static_cast<float>(p.pad_x);
    transforms[4 * i + 3] = static_cast<float>(p.pad_y);
  }
  return plans;
}

Normalise normalise_of(const PreprocessOptions& opt) {
  Normalise n{};
  for (std::size_t c = 0; c < 3; ++c) {
    n.mul[c] = opt.scale[c];
    n.add[c] = -opt.mean[c] * opt.scale[c];
  }
  n.bgr = opt.bgr ? 1 : 0;
  n.pad = opt.pad_value;
  return n;
}

std::vector<double> flatten(const std::vector<Matrix3>& matrices) {
  std::vector<double> flat;
  flat.reserve(9 * matrices.size());
  for (const auto& mat : matrices) flat.insert(flat.end(), mat.begin(), mat.end());
  return flat;
}

void check_grid_depth(std::size_t count) {
  if (count > 65535) throw InvalidArgument("CUDA: at most 65535 images or crops per call");
}

}  // namespace kuzet::vision::cuda
