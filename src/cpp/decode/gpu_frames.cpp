#include "decode/gpu_frames.hpp"

#include "decode/cuda_device.hpp"
#include "decode/decode_errors.hpp"
#include "decode/frame_buffer.hpp"

namespace kuzet::decode {

std::shared_ptr<DeviceArray> frame_on_gpu(Decoder& decoder, const AVFrame* frame, Layout layout) {
  DeviceInterface& device = decoder.device();
  if (device.name() != "cpu") return convert_on_gpu(device, frame, layout);
  const int gpu = cuda_device_index(decoder.options().device);
  if (gpu < 0) {
    throw DeviceUnavailable(decoder.name() + ": frames of a reader on device '" + decoder.options().device +
                            "' are not on the GPU; open the reader with device='cuda' or 'cuda:N'");
  }
  const FrameGeometry geo = device.geometry(frame, layout);
  FrameBuffer host = allocate_frame_buffer(geo.bytes);
  device.convert(frame, layout, host.get());
  return upload_to_gpu(host.get(), geo, gpu);
}

}  // namespace kuzet::decode
