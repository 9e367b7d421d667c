// What a reader knows about its video stream before decoding.
#pragma once
#include <cstdint>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace kuzet::decode {

struct StreamMetadata {
  std::string container;
  std::string codec;
  std::string profile;  // empty when FFmpeg does not name one
  int width = 0;
  int height = 0;
  AVRational frame_rate{0, 1};          // nominal (r_frame_rate)
  AVRational average_frame_rate{0, 1};  // avg_frame_rate
  AVRational time_base{0, 1};
  double duration = -1;      // seconds, <0 when unknown
  double start_time = 0;     // seconds
  int64_t frame_count = -1;  // from the container, <0 when unknown
  int rotation = 0;          // degrees clockwise to turn decoded frames upright: 0, 90, 180 or 270
  std::string pixel_format;
  std::string color_space;
  std::string color_range;
  std::string color_primaries;
  std::string color_transfer;
  int64_t bit_rate = 0;
  int stream_index = -1;
};

StreamMetadata read_metadata(const AVFormatContext* fmt, const AVStream* stream, const AVCodecContext* codec);

}  // namespace kuzet::decode
