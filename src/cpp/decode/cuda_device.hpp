// CUDA device interface: NVDEC decoding through FFmpeg's CUDA hwaccel, frames kept in GPU memory and
// colour-converted there (decode/cuda/convert_kernels.cu). CUDA-free header, usable in every build;
// in CPU-only builds the functions below throw DeviceUnavailable.
#pragma once
#include <memory>

#include "common/device_array.hpp"
#include "decode/device_interface.hpp"

namespace kuzet::decode {

// The device for "cuda:<index>". With strict (device="cuda"), a stream NVDEC turns down raises
// DeviceUnavailable; without (device="auto"), such a stream is decoded in software and converted on the CPU.
std::unique_ptr<DeviceInterface> make_cuda_device(int index, bool strict);

// `frame` (from a decoder on a CUDA device) converted to `layout` in a new GPU array; the array is
// complete when this returns (the conversion stream has been synchronised).
std::shared_ptr<DeviceArray> convert_on_gpu(DeviceInterface& device, const AVFrame* frame, Layout layout);

// A frame converted on the host (`geometry.bytes` at `host`) copied into a new array on CUDA device
// `device_index`, complete when this returns.
std::shared_ptr<DeviceArray> upload_to_gpu(const uint8_t* host, const FrameGeometry& geometry, int device_index);

}  // namespace kuzet::decode
