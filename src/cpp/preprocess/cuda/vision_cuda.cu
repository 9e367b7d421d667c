// CUDA kernels for batched pre-processing and warps (RGB or NV12 sources, the NV12 maths shared with the CPU
// in preprocess/yuv_pixel.hpp). Host sources are uploaded (packed rows); device sources
// (decoded NVDEC frames, CuPy arrays, aligned crops) are read in place. One thread per output pixel; every
// call synchronises before returning; scratch device buffers are allocated per call.
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "common/errors.hpp"
#include "preprocess/cuda/vision_cuda.hpp"

namespace kuzet::vision::cuda {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a sticky error so later calls start clean
    throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(err));
  }
}

// Device memory freed when the call ends, whatever happens.
template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(std::size_t count) {
    if (count) check(cudaMalloc(reinterpret_cast<void**>(&ptr), count * sizeof(T)), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate"); }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

// A source image in device memory: rows of width*3 bytes, row_stride bytes apart; or NV12 (nv12 != 0):
// data is the luma plane, uv the U/V plane (height/2 rows of width bytes, uv_stride apart), converted with yuv.
struct DeviceImage {
  const std::uint8_t* data;
  long long row_stride;
  int height, width;
  int nv12;
  const std::uint8_t* uv;
  long long uv_stride;
  YuvToRgb yuv;
};

__device__ Nv12Planes planes_of(const DeviceImage& img) {
  Nv12Planes p;
  p.y = img.data;
  p.uv = img.uv;
  p.y_stride = img.row_stride;
  p.uv_stride = img.uv_stride;
  p.width = img.width;
  p.height = img.height;
  p.m = img.yuv;
  return p;
}

// Bytes of one source image as uploaded (packed rows).
std::size_t image_bytes(const ImageView& img) {
  const auto rows = static_cast<std::size_t>(img.height), w = static_cast<std::size_t>(img.width);
  return img.format == PixelFormat::Nv12 ? w * rows + w * (rows / 2) : w * 3 * rows;
}

struct PlanParams {
  int new_w, new_h, pad_x, pad_y;
  float ratio_x, ratio_y;  // source pixels per resized pixel
};

std::size_t packed_bytes(const std::vector<ImageView>& images) {
  std::size_t total = 0;
  for (const auto& img : images) total += image_bytes(img);
  return total;
}

// Uploads host images into `pixels` (packed rows) and returns where each one lies there.
std::vector<DeviceImage> upload(const std::vector<ImageView>& images, std::uint8_t* pixels, cudaStream_t stream) {
  std::vector<DeviceImage> layout;
  std::size_t offset = 0;
  for (const auto& img : images) {
    const bool nv12 = img.format == PixelFormat::Nv12;
    const std::size_t row = static_cast<std::size_t>(img.width) * (nv12 ? 1 : 3);
    check(cudaMemcpy2DAsync(pixels + offset, row, img.data, static_cast<std::size_t>(img.row_stride), row,
                            static_cast<std::size_t>(img.height), cudaMemcpyHostToDevice, stream),
          "upload of an image");
    DeviceImage d{pixels + offset, static_cast<long long>(row), img.height, img.width, nv12 ? 1 : 0, nullptr, 0,
                  img.yuv};
    if (nv12) {  // the U/V plane right after the luma plane
      d.uv = pixels + offset + row * static_cast<std::size_t>(img.height);
      d.uv_stride = static_cast<long long>(row);
      check(cudaMemcpy2DAsync(const_cast<std::uint8_t*>(d.uv), row, img.uv, static_cast<std::size_t>(img.uv_stride),
                              row, static_cast<std::size_t>(img.height / 2), cudaMemcpyHostToDevice, stream),
            "upload of an image's U/V plane");
    }
    layout.push_back(d);
    offset += image_bytes(img);
  }
  return layout;
}

// Images already in device memory: their views are device addresses.
std::vector<DeviceImage> in_place(const std::vector<ImageView>& device_images) {
  std::vector<DeviceImage> layout;
  for (const auto& img : device_images)
    layout.push_back({img.data, static_cast<long long>(img.row_stride), img.height, img.width,
                      img.format == PixelFormat::Nv12 ? 1 : 0, img.uv, static_cast<long long>(img.uv_stride), img.yuv});
  return layout;
}

// The producers' streams (from __cuda_array_interface__) must finish before our stream reads their data.
void wait_for(const std::vector<std::uintptr_t>& producer_streams) {
  for (std::uintptr_t s : producer_streams)
    if (s != 0) check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)), "waiting for the producer stream");
}

void check_grid_depth(std::size_t count) {
  if (count > 65535) throw InvalidArgument("CUDA: at most 65535 images or crops per call");
}

__device__ void resize_tap(int d, float ratio, int in, int& i0, int& i1, float& w1) {
  const float f = (d + 0.5f) * ratio - 0.5f;
  int s = static_cast<int>(floorf(f));
  float a = f - s;
  if (s < 0) {
    s = 0;
    a = 0.f;
  }
  if (s >= in - 1) {
    s = in - 1;
    a = 0.f;
  }
  i0 = s;
  i1 = min(s + 1, in - 1);
  w1 = a;
}

__device__ void rgb_resize_sample(const DeviceImage& img, int x0, int x1, float ax, int y0, int y1, float ay,
                                  float v[3]) {
  const std::uint8_t* r0 = img.data + static_cast<long long>(y0) * img.row_stride;
  const std::uint8_t* r1 = img.data + static_cast<long long>(y1) * img.row_stride;
  for (int c = 0; c < 3; ++c) {
    const float top = r0[3 * x0 + c] + ax * (r0[3 * x1 + c] - r0[3 * x0 + c]);
    const float bottom = r1[3 * x0 + c] + ax * (r1[3 * x1 + c] - r1[3 * x0 + c]);
    v[c] = top + ay * (bottom - top);
  }
}

__global__ void preprocess_kernel(const DeviceImage* images, const PlanParams* plans,
                                  int out_h, int out_w, int bgr, float3 mul, float3 add, float pad, float* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int n = blockIdx.z;
  if (x >= out_w || y >= out_h) return;
  const std::size_t plane = static_cast<std::size_t>(out_h) * out_w;
  float* dst = out + static_cast<std::size_t>(n) * 3 * plane + static_cast<std::size_t>(y) * out_w + x;
  const PlanParams p = plans[n];
  const int dx = x - p.pad_x, dy = y - p.pad_y;
  if (dx < 0 || dy < 0 || dx >= p.new_w || dy >= p.new_h) {
    dst[0] = dst[plane] = dst[2 * plane] = pad;
    return;
  }
  const DeviceImage img = images[n];
  int x0, x1, y0, y1;
  float ax, ay;
  resize_tap(dx, p.ratio_x, img.width, x0, x1, ax);
  resize_tap(dy, p.ratio_y, img.height, y0, y1, ay);
  float v[3];
  if (img.nv12) {
    // Chroma: the same mapping over the half-size plane (centred siting), as the CPU version does.
    int cx0, cx1, cy0, cy1;
    float acx, acy;
    resize_tap(dx, 0.5f * p.ratio_x, img.width / 2, cx0, cx1, acx);
    resize_tap(dy, 0.5f * p.ratio_y, img.height / 2, cy0, cy1, acy);
    nv12_resize_sample(planes_of(img), x0, x1, ax, y0, y1, ay, cx0, cx1, acx, cy0, cy1, acy, v);
  } else {
    rgb_resize_sample(img, x0, x1, ax, y0, y1, ay, v);
  }
  const float c0 = bgr ? v[2] : v[0], c2 = bgr ? v[0] : v[2];
  dst[0] = c0 * mul.x + add.x;
  dst[plane] = v[1] * mul.y + add.y;
  dst[2 * plane] = c2 * mul.z + add.z;
}

__global__ void warp_kernel(const DeviceImage* images, const int* image_index,
                            const double* matrices, int out_h, int out_w, int border, std::uint8_t* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int k = blockIdx.z;
  if (x >= out_w || y >= out_h) return;
  std::uint8_t* dst = out + ((static_cast<std::size_t>(k) * out_h + y) * out_w + x) * 3;
  const double* m = matrices + 9 * k;
  double sx = m[0] * x + m[1] * y + m[2];
  double sy = m[3] * x + m[4] * y + m[5];
  const double w = m[6] * x + m[7] * y + m[8];
  if (!(m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0)) {
    sx = w != 0.0 ? sx / w : -1e9;
    sy = w != 0.0 ? sy / w : -1e9;
  }
  const DeviceImage img = images[image_index[k]];
  if (!(fabs(sx) < 16777216.0 && fabs(sy) < 16777216.0)) {
    dst[0] = dst[1] = dst[2] = static_cast<std::uint8_t>(border);
    return;
  }
  if (img.nv12) {
    float rgb[3];
    nv12_warp_sample(planes_of(img), sx, sy, static_cast<float>(border), rgb);
    for (int c = 0; c < 3; ++c) dst[c] = static_cast<std::uint8_t>(fminf(fmaxf(rgb[c] + 0.5f, 0.f), 255.f));
    return;
  }
  const double fsx = floor(sx), fsy = floor(sy);
  const int x0 = static_cast<int>(fsx), y0 = static_cast<int>(fsy);
  const float fx = static_cast<float>(sx - fsx), fy = static_cast<float>(sy - fsy);
  const float bv = static_cast<float>(border);
  for (int c = 0; c < 3; ++c) {
    float p[2][2];
    for (int j = 0; j < 2; ++j) {
      for (int i = 0; i < 2; ++i) {
        const int xx = x0 + i, yy = y0 + j;
        const bool inside = xx >= 0 && yy >= 0 && xx < img.width && yy < img.height;
        p[j][i] = inside ? img.data[static_cast<long long>(yy) * img.row_stride + 3 * xx + c] : bv;
      }
    }
    const float top = p[0][0] + fx * (p[0][1] - p[0][0]);
    const float bottom = p[1][0] + fx * (p[1][1] - p[1][0]);
    const float v = top + fy * (bottom - top) + 0.5f;
    dst[c] = static_cast<std::uint8_t>(fminf(fmaxf(v, 0.f), 255.f));
  }
}

template <class T>
void copy_to_device(DeviceBuffer<T>& dst, const std::vector<T>& src, cudaStream_t stream) {
  if (!src.empty())
    check(cudaMemcpyAsync(dst.ptr, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice, stream),
          "upload of parameters");
}

}  // namespace

bool built() { return true; }

namespace {

// Plans (device side) and transforms (host side, N*4) of the images, as the CPU version computes them.
std::vector<PlanParams> plan_all(const std::vector<ImageView>& images, const PreprocessOptions& opt,
                                 float* transforms) {
  std::vector<PlanParams> plans(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ResizePlan p = plan_resize(images[i].height, images[i].width, opt);
    plans[i] = {p.new_w, p.new_h, p.pad_x, p.pad_y,
                static_cast<float>(static_cast<double>(images[i].width) / p.new_w),
                static_cast<float>(static_cast<double>(images[i].height) / p.new_h)};
    transforms[4 * i + 0] = p.scale_x;
    transforms[4 * i + 1] = p.scale_y;
    transforms[4 * i + 2] = static_cast<float>(p.pad_x);
    transforms[4 * i + 3] = static_cast<float>(p.pad_y);
  }
  return plans;
}

// Runs the preprocess kernel over images in device memory into `target` (device) on `stream`.
void launch_preprocess(const std::vector<DeviceImage>& layout, const std::vector<PlanParams>& plans,
                       const PreprocessOptions& opt, float* target, cudaStream_t stream) {
  const std::size_t n = layout.size();
  DeviceBuffer<DeviceImage> d_layout(n);
  DeviceBuffer<PlanParams> d_plans(n);
  copy_to_device(d_layout, layout, stream);
  copy_to_device(d_plans, plans, stream);
  const float3 mul = make_float3(opt.scale[0], opt.scale[1], opt.scale[2]);
  const float3 add =
      make_float3(-opt.mean[0] * opt.scale[0], -opt.mean[1] * opt.scale[1], -opt.mean[2] * opt.scale[2]);
  const dim3 block(32, 8);
  const dim3 grid((opt.out_w + 31) / 32, (opt.out_h + 7) / 8, static_cast<unsigned>(n));
  preprocess_kernel<<<grid, block, 0, stream>>>(d_layout.ptr, d_plans.ptr, opt.out_h, opt.out_w, opt.bgr ? 1 : 0,
                                                mul, add, opt.pad_value, target);
  check(cudaGetLastError(), "preprocess kernel launch");
  check(cudaStreamSynchronize(stream), "preprocess");  // before d_layout / d_plans are freed
}

// Runs the warp kernel over images in device memory into `target` (device) on `stream`.
void launch_warp(const std::vector<DeviceImage>& layout, const std::vector<int>& image_index,
                 const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                 std::uint8_t* target, cudaStream_t stream) {
  const std::size_t m = matrices.size();
  std::vector<double> flat;
  flat.reserve(9 * m);
  for (const auto& mat : matrices) flat.insert(flat.end(), mat.begin(), mat.end());
  DeviceBuffer<DeviceImage> d_layout(layout.size());
  DeviceBuffer<int> d_index(m);
  DeviceBuffer<double> d_mats(flat.size());
  copy_to_device(d_layout, layout, stream);
  copy_to_device(d_index, image_index, stream);
  copy_to_device(d_mats, flat, stream);
  const dim3 block(32, 8);
  const dim3 grid((out_w + 31) / 32, (out_h + 7) / 8, static_cast<unsigned>(m));
  warp_kernel<<<grid, block, 0, stream>>>(d_layout.ptr, d_index.ptr, d_mats.ptr, out_h, out_w, border, target);
  check(cudaGetLastError(), "warp kernel launch");
  check(cudaStreamSynchronize(stream), "warp");  // before the parameter buffers are freed
}

}  // namespace

void preprocess_batch(const std::vector<ImageView>& images, const PreprocessOptions& opt, float* out,
                      bool out_on_device, float* transforms, int device) {
  const std::size_t n = images.size();
  if (n == 0) return;
  check_grid_depth(n);
  check(cudaSetDevice(device), "cudaSetDevice");
  const std::vector<PlanParams> plans = plan_all(images, opt, transforms);
  Stream stream;
  DeviceBuffer<std::uint8_t> pixels(packed_bytes(images));
  const std::vector<DeviceImage> layout = upload(images, pixels.ptr, stream.s);
  const std::size_t out_count = n * 3 * static_cast<std::size_t>(opt.out_h) * static_cast<std::size_t>(opt.out_w);
  DeviceBuffer<float> d_out(out_on_device ? 0 : out_count);
  launch_preprocess(layout, plans, opt, out_on_device ? out : d_out.ptr, stream.s);
  if (!out_on_device) {
    check(cudaMemcpyAsync(out, d_out.ptr, out_count * sizeof(float), cudaMemcpyDeviceToHost, stream.s),
          "download of the batch");
    check(cudaStreamSynchronize(stream.s), "download of the batch");
  }
}

void preprocess_batch_from_device(const std::vector<ImageView>& device_images,
                                  const std::vector<std::uintptr_t>& producer_streams, const PreprocessOptions& opt,
                                  float* out_device, float* transforms, int device) {
  const std::size_t n = device_images.size();
  if (n == 0) return;
  check_grid_depth(n);
  check(cudaSetDevice(device), "cudaSetDevice");
  const std::vector<PlanParams> plans = plan_all(device_images, opt, transforms);
  wait_for(producer_streams);
  Stream stream;
  launch_preprocess(in_place(device_images), plans, opt, out_device, stream.s);
}

void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border, std::uint8_t* out,
                int device) {
  const std::size_t m = matrices.size();
  if (m == 0) return;
  check_grid_depth(m);
  check(cudaSetDevice(device), "cudaSetDevice");
  Stream stream;
  DeviceBuffer<std::uint8_t> pixels(packed_bytes(images));
  const std::vector<DeviceImage> layout = upload(images, pixels.ptr, stream.s);
  const std::size_t out_count = m * static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  DeviceBuffer<std::uint8_t> d_out(out_count);
  launch_warp(layout, image_index, matrices, out_h, out_w, border, d_out.ptr, stream.s);
  check(cudaMemcpyAsync(out, d_out.ptr, out_count, cudaMemcpyDeviceToHost, stream.s), "download of the crops");
  check(cudaStreamSynchronize(stream.s), "download of the crops");
}

void warp_batch_from_device(const std::vector<ImageView>& device_images,
                            const std::vector<std::uintptr_t>& producer_streams, const std::vector<int>& image_index,
                            const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                            std::uint8_t* out, bool out_on_device, int device) {
  const std::size_t m = matrices.size();
  if (m == 0) return;
  check_grid_depth(m);
  check(cudaSetDevice(device), "cudaSetDevice");
  wait_for(producer_streams);
  Stream stream;
  const std::size_t out_count = m * static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  DeviceBuffer<std::uint8_t> d_out(out_on_device ? 0 : out_count);
  launch_warp(in_place(device_images), image_index, matrices, out_h, out_w, border, out_on_device ? out : d_out.ptr,
              stream.s);
  if (!out_on_device) {
    check(cudaMemcpyAsync(out, d_out.ptr, out_count, cudaMemcpyDeviceToHost, stream.s), "download of the crops");
    check(cudaStreamSynchronize(stream.s), "download of the crops");
  }
}

}  // namespace kuzet::vision::cuda
