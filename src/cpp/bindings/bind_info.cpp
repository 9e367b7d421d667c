#include <openssl/crypto.h>
#include <pybind11/pybind11.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
}

#include "bindings/bindings.hpp"
#include "common/cuda_runtime_info.hpp"
#include "common/errors.hpp"
#include "common/simd.hpp"
#include "decode/nvdec_support.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

std::string av_version_string(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." +
         std::to_string(AV_VERSION_MICRO(v));
}

py::dict native_build_info() {
  py::dict d;
  d["version"] = KUZET_VERSION;
  d["ffmpeg"] = std::string(av_version_info());
  py::dict libs;
  libs["libavformat"] = av_version_string(avformat_version());
  libs["libavcodec"] = av_version_string(avcodec_version());
  libs["libavutil"] = av_version_string(avutil_version());
  libs["libswscale"] = av_version_string(swscale_version());
  d["ffmpeg_libraries"] = libs;
  d["openssl"] = std::string(OpenSSL_version(OPENSSL_VERSION));
  // the widest vector code the CPU pixel loops (colour conversion, pre-processing, warps) run here
  d["cpu_simd"] = std::string(simd_level_name(best_simd_level()));

  CudaRuntimeInfo cuda;
  {
    py::gil_scoped_release release;  // first CUDA call may take a while to load the driver
    cuda = query_cuda_runtime();
  }
  py::dict c;
  c["built"] = cuda.built;
  c["runtime_version"] = cuda.runtime_version;
  c["driver_version"] = cuda.driver_version;
  c["error"] = cuda.error;
  py::list devices;
  for (const auto& dev : cuda.devices) {
    py::dict dd;
    dd["index"] = dev.index;
    dd["name"] = dev.name;
    dd["compute_capability"] = std::to_string(dev.compute_major) + "." + std::to_string(dev.compute_minor);
    dd["total_memory"] = dev.total_memory;
    devices.append(dd);
  }
  c["devices"] = devices;
  d["cuda"] = c;
  return d;
}

}  // namespace

void bind_info(py::module_& m) {
  m.def("native_build_info", &native_build_info,
        "Versions of the native libraries kuzet was built against and the CUDA devices it sees.");
  m.def(
      "_decoders_for",
      [](const std::string& codec_name) {
        const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(codec_name.c_str());
        if (!desc) throw InvalidArgument("unknown codec '" + codec_name + "'");
        const AVCodec* software = avcodec_find_decoder(desc->id);
        const AVCodec* nvdec = decode::nvdec_decoder_for(desc->id);
        return py::make_tuple(software ? software->name : "", nvdec ? nvdec->name : "");
      },
      py::arg("codec"), "Test hook: (the decoder the CPU uses, the decoder NVDEC decoding uses) for a codec.");
}

}  // namespace kuzet::bindings
