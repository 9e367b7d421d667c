#include <cuda_runtime.h>

#include <string>

#include "common/errors.hpp"
#include "decode/cuda/convert_kernels.hpp"

namespace kuzet::decode::cuda {

namespace {

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;

dim3 grid_for(int width, int height) {
  return dim3(static_cast<unsigned>((width + kBlockX - 1) / kBlockX),
              static_cast<unsigned>((height + kBlockY - 1) / kBlockY));
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw Error(std::string("CUDA ") + what + " kernel failed to launch: " + cudaGetErrorString(err));
}

template <typename T>
__global__ void to_rgb_kernel(SemiPlanarFrame src, YuvCoeffs coeffs, RgbOutput out, uint8_t* dst) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= src.width || row >= src.height) return;
  uint8_t r, g, b;
  semi_planar_pixel_to_rgb<T>(src.y, src.y_pitch, src.uv, src.uv_pitch, x, row, coeffs, r, g, b);
  store_rgb(out, dst, static_cast<int64_t>(row) * src.width + x, static_cast<int64_t>(src.width) * src.height, r, g, b);
}

// One thread per luma sample (semi_planar_sample_to_yuv420, shared with the host twin).
template <typename T>
__global__ void to_yuv420_kernel(SemiPlanarFrame src, bool interleaved_uv, uint8_t* dst) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= src.width || row >= src.height) return;
  semi_planar_sample_to_yuv420<T>(src, interleaved_uv, x, row, dst);
}

}  // namespace

void convert_to_rgb(const SemiPlanarFrame& src, const YuvCoeffs& coeffs, RgbOutput out, uint8_t* dst, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 block(kBlockX, kBlockY);
  if (src.sixteen_bit) {
    to_rgb_kernel<uint16_t><<<grid_for(src.width, src.height), block, 0, s>>>(src, coeffs, out, dst);
  } else {
    to_rgb_kernel<uint8_t><<<grid_for(src.width, src.height), block, 0, s>>>(src, coeffs, out, dst);
  }
  check_launch("YUV to RGB");
}

void convert_to_yuv420(const SemiPlanarFrame& src, bool interleaved_uv, uint8_t* dst, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 block(kBlockX, kBlockY);
  if (src.sixteen_bit) {
    to_yuv420_kernel<uint16_t><<<grid_for(src.width, src.height), block, 0, s>>>(src, interleaved_uv, dst);
  } else {
    to_yuv420_kernel<uint8_t><<<grid_for(src.width, src.height), block, 0, s>>>(src, interleaved_uv, dst);
  }
  check_launch("YUV 4:2:0 repack");
}

void copy_semi_planar(const SemiPlanarFrame& src, uint8_t* dst, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const size_t sample = src.sixteen_bit ? 2 : 1;
  const size_t row_bytes = static_cast<size_t>(src.width) * sample;
  const size_t chroma_row_bytes = static_cast<size_t>((src.width + 1) / 2) * 2 * sample;
  const size_t chroma_rows = static_cast<size_t>((src.height + 1) / 2);
  cudaError_t err = cudaMemcpy2DAsync(dst, row_bytes, src.y, static_cast<size_t>(src.y_pitch), row_bytes,
                                      static_cast<size_t>(src.height), cudaMemcpyDeviceToDevice, s);
  if (err == cudaSuccess) {
    err = cudaMemcpy2DAsync(dst + row_bytes * static_cast<size_t>(src.height), chroma_row_bytes, src.uv,
                            static_cast<size_t>(src.uv_pitch), chroma_row_bytes, chroma_rows,
                            cudaMemcpyDeviceToDevice, s);
  }
  if (err != cudaSuccess) throw Error(std::string("CUDA plane copy failed: ") + cudaGetErrorString(err));
}

}  // namespace kuzet::decode::cuda
