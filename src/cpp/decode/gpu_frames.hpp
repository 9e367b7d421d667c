// Frames handed out in GPU memory (CudaVideoReader, live readers with gpu_frames), whichever device decoded
// them: NVDEC's frames are converted on the GPU (decode/cuda_device.hpp); a stream NVDEC turned down when the
// reader opened, decoded on the CPU under DecoderOptions::nvdec_fallback, is converted on the host and
// uploaded to the reader's GPU. CUDA-free header; in CPU-only builds these throw DeviceUnavailable.
#pragma once
#include <memory>

#include "common/device_array.hpp"
#include "decode/decoder.hpp"

namespace kuzet::decode {

// `frame` (just decoded by `decoder`, whose DecoderOptions::device names a GPU) in a new GPU array of
// `layout`, complete when this returns.
std::shared_ptr<DeviceArray> frame_on_gpu(Decoder& decoder, const AVFrame* frame, Layout layout);

}  // namespace kuzet::decode
