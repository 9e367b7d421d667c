// CUDA kernels for batched pre-processing and warps (RGB or NV12 sources). Each kernel finds its output
// pixel and calls the per-pixel function in vision_pixels.hpp (the NV12 maths shared with the CPU in
// preprocess/yuv_pixel.hpp); vision_on_host.cpp runs the same functions on the host. Host sources are
// uploaded (packed rows); device sources (decoded NVDEC frames, CuPy arrays, aligned crops) are read in place. One thread per output pixel; every
// call synchronises before returning; scratch device buffers come from the stream-ordered pool per call.
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "common/cuda_device_guard.hpp"
#include "common/device_array.hpp"
#include "common/device_pools.hpp"
#include "common/errors.hpp"
#include "preprocess/cuda/vision_cuda.hpp"
#include "preprocess/cuda/vision_pixels.hpp"
#include "preprocess/cuda/vision_setup.hpp"

namespace kuzet::vision::cuda {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a sticky error so later calls start clean
    throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(err));
  }
}

// Device memory freed when the call ends, whatever happens. Stream-ordered (the device's memory pool):
// cudaMalloc/cudaFree would synchronise the whole device on every call, stalling every NVDEC reader's stream.
template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  cudaStream_t stream;
  bool pooled = true;
  // On the current device (the caller's guard made it the target's).
  DeviceBuffer(std::size_t count, cudaStream_t s) : stream(s) {
    if (!count) return;
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    pooled = pools_supported(device);  // else plain cudaMalloc / cudaFree (some virtualised GPUs)
    void** p = reinterpret_cast<void**>(&ptr);
    check(pooled ? cudaMallocAsync(p, count * sizeof(T), stream) : cudaMalloc(p, count * sizeof(T)),
          "device allocation");
  }
  ~DeviceBuffer() {
    if (ptr && (pooled ? cudaFreeAsync(ptr, stream) : cudaFree(ptr)) != cudaSuccess)
      cudaGetLastError();  // never a stale error for later
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Stream {
  cudaStream_t s = nullptr;
  // Blocking (not cudaStreamNonBlocking): ordered after the work queued on the legacy default stream, which is
  // where producers that name no stream in __cuda_array_interface__ (PyTorch's v2 interface) write their data.
  Stream() { check(cudaStreamCreateWithFlags(&s, cudaStreamDefault), "cudaStreamCreate"); }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

// Uploads host images into `pixels` (packed rows, packed_layout) and returns where each one lies there.
std::vector<DeviceImage> upload(const std::vector<ImageView>& images, std::uint8_t* pixels, cudaStream_t stream) {
  const std::vector<DeviceImage> layout = packed_layout(images, pixels);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageView& img = images[i];
    const DeviceImage& d = layout[i];
    const auto row = static_cast<std::size_t>(d.row_stride);
    check(cudaMemcpy2DAsync(const_cast<std::uint8_t*>(d.data), row, img.data, static_cast<std::size_t>(img.row_stride),
                            row, static_cast<std::size_t>(img.height), cudaMemcpyHostToDevice, stream),
          "upload of an image");
    if (d.nv12)
      check(cudaMemcpy2DAsync(const_cast<std::uint8_t*>(d.uv), row, img.uv, static_cast<std::size_t>(img.uv_stride),
                              row, static_cast<std::size_t>(img.height / 2), cudaMemcpyHostToDevice, stream),
            "upload of an image's U/V plane");
  }
  return layout;
}

// Memory a kernel on `device` may use: that device's memory, managed memory, or pinned host memory. Anything
// else (pageable host memory behind a wrong interface, another GPU's memory) would fault on the GPU, and a fault
// leaves the device's context unusable for every reader and model of the process: refused here instead, before
// any device is selected. (cudaPointerGetAttributes needs no current device.)
void require_gpu_memory(const void* p, int device, const std::string& what) {
  const MemoryPlace place = memory_place(p);
  if (place.kind == MemoryKind::Managed || place.kind == MemoryKind::PinnedHost) return;
  if (place.kind == MemoryKind::Unregistered)
    throw InvalidArgument(what + " is in host memory, not in the GPU memory of cuda:" + std::to_string(device));
  if (place.device != device)
    throw InvalidArgument(what + " is on cuda:" + std::to_string(place.device) + ", but this call runs on cuda:" +
                          std::to_string(device) + " (pass device='cuda:" + std::to_string(place.device) + "')");
}

void require_gpu_images(const std::vector<ImageView>& images, int device) {
  for (std::size_t i = 0; i < images.size(); ++i)
    require_gpu_memory(images[i].data, device, "image " + std::to_string(i));
}

// The producers' streams (from __cuda_array_interface__) must finish before our stream reads their data.
void wait_for(const std::vector<std::uintptr_t>& producer_streams) {
  for (std::uintptr_t s : producer_streams)
    if (s != 0) check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)), "waiting for the producer stream");
}

// One thread per output pixel; the pixel's work is preprocess_pixel (vision_pixels.hpp, shared with the host twin).
__global__ void preprocess_kernel(const DeviceImage* images, const PlanParams* plans, const Tap* taps, int out_h,
                                  int out_w, Normalise norm, float* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int n = blockIdx.z;
  if (x >= out_w || y >= out_h) return;
  float* image_out = out + static_cast<std::size_t>(n) * 3 * static_cast<std::size_t>(out_h) * out_w;
  preprocess_pixel(images[n], plans[n], taps, norm, out_h, out_w, x, y, image_out);
}

// One thread per output pixel of crop k; the pixel's work is warp_pixel (vision_pixels.hpp).
__global__ void warp_kernel(const DeviceImage* images, const int* image_index, const double* matrices, int out_h,
                            int out_w, int border, std::uint8_t* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int k = blockIdx.z;
  if (x >= out_w || y >= out_h) return;
  std::uint8_t* dst = out + ((static_cast<std::size_t>(k) * out_h + y) * out_w + x) * 3;
  warp_pixel(images[image_index[k]], matrices + 9 * k, x, y, border, dst);
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

// Runs the preprocess kernel over images in device memory into `target` (device) on `stream`.
void launch_preprocess(const std::vector<DeviceImage>& layout, const Plans& plans, const PreprocessOptions& opt,
                       float* target, cudaStream_t stream) {
  const std::size_t n = layout.size();
  DeviceBuffer<DeviceImage> d_layout(n, stream);
  DeviceBuffer<PlanParams> d_plans(n, stream);
  DeviceBuffer<Tap> d_taps(plans.taps.size(), stream);
  copy_to_device(d_layout, layout, stream);
  copy_to_device(d_plans, plans.params, stream);
  copy_to_device(d_taps, plans.taps, stream);
  const dim3 block(32, 8);
  const dim3 grid((opt.out_w + 31) / 32, (opt.out_h + 7) / 8, static_cast<unsigned>(n));
  preprocess_kernel<<<grid, block, 0, stream>>>(d_layout.ptr, d_plans.ptr, d_taps.ptr, opt.out_h, opt.out_w,
                                                normalise_of(opt), target);
  check(cudaGetLastError(), "preprocess kernel launch");
  check(cudaStreamSynchronize(stream), "preprocess");  // before the parameter buffers are freed
}

// Runs the warp kernel over images in device memory into `target` (device) on `stream`.
void launch_warp(const std::vector<DeviceImage>& layout, const std::vector<int>& image_index,
                 const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border,
                 std::uint8_t* target, cudaStream_t stream) {
  const std::size_t m = matrices.size();
  const std::vector<double> flat = flatten(matrices);
  DeviceBuffer<DeviceImage> d_layout(layout.size(), stream);
  DeviceBuffer<int> d_index(m, stream);
  DeviceBuffer<double> d_mats(flat.size(), stream);
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
  if (out_on_device) require_gpu_memory(out, device, "out");
  const CudaDeviceGuard on_device(device);  // the caller's current device is restored on return
  check(on_device.result(), "cudaSetDevice");
  const Plans plans = plan_all(images, opt, transforms);
  Stream stream;
  DeviceBuffer<std::uint8_t> pixels(packed_bytes(images), stream.s);
  const std::vector<DeviceImage> layout = upload(images, pixels.ptr, stream.s);
  const std::size_t out_count = n * 3 * static_cast<std::size_t>(opt.out_h) * static_cast<std::size_t>(opt.out_w);
  DeviceBuffer<float> d_out(out_on_device ? 0 : out_count, stream.s);
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
  require_gpu_images(device_images, device);
  require_gpu_memory(out_device, device, "out");
  const CudaDeviceGuard on_device(device);  // the caller's current device is restored on return
  check(on_device.result(), "cudaSetDevice");
  const Plans plans = plan_all(device_images, opt, transforms);
  wait_for(producer_streams);
  Stream stream;
  launch_preprocess(in_place_layout(device_images), plans, opt, out_device, stream.s);
}

void warp_batch(const std::vector<ImageView>& images, const std::vector<int>& image_index,
                const std::vector<Matrix3>& matrices, int out_h, int out_w, std::uint8_t border, std::uint8_t* out,
                int device) {
  const std::size_t m = matrices.size();
  if (m == 0) return;
  check_grid_depth(m);
  const CudaDeviceGuard on_device(device);  // the caller's current device is restored on return
  check(on_device.result(), "cudaSetDevice");
  Stream stream;
  DeviceBuffer<std::uint8_t> pixels(packed_bytes(images), stream.s);
  const std::vector<DeviceImage> layout = upload(images, pixels.ptr, stream.s);
  const std::size_t out_count = m * static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  DeviceBuffer<std::uint8_t> d_out(out_count, stream.s);
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
  require_gpu_images(device_images, device);
  if (out_on_device) require_gpu_memory(out, device, "out");
  const CudaDeviceGuard on_device(device);  // the caller's current device is restored on return
  check(on_device.result(), "cudaSetDevice");
  wait_for(producer_streams);
  Stream stream;
  const std::size_t out_count = m * static_cast<std::size_t>(out_h) * static_cast<std::size_t>(out_w) * 3;
  DeviceBuffer<std::uint8_t> d_out(out_on_device ? 0 : out_count, stream.s);
  launch_warp(in_place_layout(device_images), image_index, matrices, out_h, out_w, border, out_on_device ? out : d_out.ptr,
              stream.s);
  if (!out_on_device) {
    check(cudaMemcpyAsync(out, d_out.ptr, out_count, cudaMemcpyDeviceToHost, stream.s), "download of the crops");
    check(cudaStreamSynchronize(stream.s), "download of the crops");
  }
}

}  // namespace kuzet::vision::cuda
