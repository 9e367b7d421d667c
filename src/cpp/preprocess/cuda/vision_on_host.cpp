// Host twins of the CUDA kernels: a loop over the kernels' grid (image or crop, row, column) calling the
// kernels' own per-pixel functions.
#include "preprocess/cuda/vision_on_host.hpp"

#include <cstddef>
#include <cstring>

#include "preprocess/cuda/vision_pixels.hpp"
#include "preprocess/cuda/vision_setup.hpp"

namespace kuzet::vision::cuda {

namespace {

// The host images copied into one buffer as `upload` copies them to the device (packed_layout).
struct PackedImages {
  std::vector<std::uint8_t> bytes;
  std::vector<DeviceImage> layout;
};

void copy_rows(std::uint8_t* dst, std::size_t dst_stride, const std::uint8_t* src, std::ptrdiff_t src_stride,
               std::size_t row_bytes, int rows) {
  for (int r = 0; r < rows; ++r)
    std::memcpy(dst + static_cast<std::size_t>(r) * dst_stride, src + static_cast<std::ptrdiff_t>(r) * src_stride,
                row_bytes);
}

PackedImages pack(const std::vector<ImageView>& images) {
  PackedImages p;
  p.bytes.resize(packed_bytes(images));
  p.layout = packed_layout(images, p.bytes.data());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageView& img = images[i];
    const DeviceImage& d = p.layout[i];
    const auto row = static_cast<std::size_t>(d.row_stride);
    // The layout points into p.bytes, which this function owns: writing through it is writing p.bytes.
    copy_rows(const_cast<std::uint8_t*>(d.data), row, img.data, img.row_stride, row, img.height);
    if (d.nv12) copy_rows(const_cast<std::uint8_t*>(d.uv), row, img.uv, img.uv_stride, row, img.height / 2);
  }
  return p;
}

std::vector<DeviceImage> layout_of(const std::vector<ImageView>& images, SourceLayout layout, PackedImages& packed) {
  if (layout == SourceLayout::InPlace) return in_place_layout(images);
  packed = pack(images);
  return packed.layout;
}

}  // namespace

void preprocess_batch_on_host(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                              float* transforms, SourceLayout layout) {
  const std::size_t n = images.size();
  if (n == 0) return;
  check_grid_depth(n);
  const Plans plans = plan_all(images, opt, transforms);
  PackedImages packed;
  const std::vector<DeviceImage> sources = layout_of(images, layout, packed);
  const Normalise norm = normalise_of(opt);
  const std::size_t per_image = 3 * static_cast<std::size_t>(opt.out_h) * static_cast<std::size_t>(opt.out_w);
  for (std::size_t i = 0; i < n; ++i)
    for (int y = 0; y < opt.out_h; ++y)
      for (int x = 0; x < opt.out_w; ++x)
        preprocess_pixel(sources[i], plans.params[i], plans.taps.data(), norm, opt.out_h, opt.out_w, x, y,
                         out + i * per_image);
}

void warp_batch_on_host(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                        const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                        std::uint8_t* out, SourceLayout layout) {
  const std::size_t m = matrices.size();
  if (m == 0) return;
  check_grid_depth(m);
  PackedImages packed;
  const std::vector<DeviceImage> sources = layout_of(images, layout, packed);
  const std::vector<double> flat = flatten(matrices);
  const std::size_t per_crop = static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  for (std::size_t k = 0; k < m; ++k) {
    const DeviceImage& img = sources[static_cast<std::size_t>(image_index[k])];
    for (int y = 0; y < out_h; ++y)
      for (int x = 0; x < out_w; ++x)
        warp_pixel(img, flat.data() + 9 * k, x, y, border,
                   out + k * per_crop + (static_cast<std::size_t>(y) * static_cast<std::size_t>(out_w) +
                                         static_cast<std::size_t>(x)) * 3);
  }
}

}  // namespace kuzet::vision::cuda
