#include "decode/metadata.hpp"

#include <cmath>

#include "decode/colour_fields.hpp"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace kuzet::decode {

namespace {

std::string or_empty(const char* s) { return s ? s : ""; }

// av_display_rotation_get gives the counter-clockwise angle the matrix applies; frames need the opposite
// turn to display upright. A degenerate matrix (NaN) means no usable rotation.
int rotation_from_display_matrix(const AVStream* stream) {
#if LIBAVFORMAT_VERSION_MAJOR >= 61
  const AVPacketSideData* sd = av_packet_side_data_get(stream->codecpar->coded_side_data,
                                                       stream->codecpar->nb_coded_side_data,
                                                       AV_PKT_DATA_DISPLAYMATRIX);
  const uint8_t* matrix = sd ? sd->data : nullptr;
#else
  const uint8_t* matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
#endif
  if (!matrix) return 0;
  const double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (!std::isfinite(ccw)) return 0;
  const long turns = std::lround(-ccw / 90.0);
  return static_cast<int>(((turns % 4) + 4) % 4) * 90;
}

}  // namespace

StreamMetadata read_metadata(const AVFormatContext* fmt, const AVStream* stream, const AVCodecContext* codec) {
  StreamMetadata m;
  const AVCodecParameters* par = stream->codecpar;
  m.container = fmt->iformat ? fmt->iformat->name : "";
  m.codec = or_empty(avcodec_get_name(par->codec_id));
  m.profile = or_empty(avcodec_profile_name(par->codec_id, par->profile));
  m.width = par->width;
  m.height = par->height;
  m.frame_rate = stream->r_frame_rate;
  m.average_frame_rate = stream->avg_frame_rate;
  m.time_base = stream->time_base;
  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    m.duration = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
  } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
    m.duration = static_cast<double>(fmt->duration) / AV_TIME_BASE;
  }
  if (stream->start_time != AV_NOPTS_VALUE) {
    m.start_time = static_cast<double>(stream->start_time) * av_q2d(stream->time_base);
  }
  m.frame_count = stream->nb_frames > 0 ? stream->nb_frames : -1;
  m.rotation = rotation_from_display_matrix(stream);
  const auto pix = static_cast<AVPixelFormat>(codec ? codec->pix_fmt : par->format);
  m.pixel_format = or_empty(av_get_pix_fmt_name(pix));
  m.color_space = or_empty(av_color_space_name(colour_space(par->color_space)));
  m.color_range = or_empty(av_color_range_name(colour_range(par->color_range)));
  m.color_primaries = or_empty(av_color_primaries_name(colour_primaries(par->color_primaries)));
  m.color_transfer = or_empty(av_color_transfer_name(colour_transfer(par->color_trc)));
  m.bit_rate = par->bit_rate;
  m.stream_index = stream->index;
  return m;
}

}  // namespace kuzet::decode
