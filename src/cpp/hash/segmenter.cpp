#include "hash/segmenter.hpp"

#include <cmath>
#include <cstring>
#include <memory>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/time.h>
}

namespace kuzet::hash {

namespace {

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// Wrapping arithmetic: corrupt inputs may carry any timestamp; signed overflow must not be undefined.
std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

void put_u32(Sha256& h, std::uint32_t v) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                             static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  h.update(b, 4);
}
void put_u64(Sha256& h, std::uint64_t v) {
  put_u32(h, static_cast<std::uint32_t>(v >> 32));
  put_u32(h, static_cast<std::uint32_t>(v));
}
void put_i64(Sha256& h, std::int64_t v) { put_u64(h, static_cast<std::uint64_t>(v)); }
void put_string(Sha256& h, const char* s) {
  const std::size_t n = s ? std::strlen(s) : 0;
  put_u32(h, static_cast<std::uint32_t>(n));
  h.update(s, n);
}

// Flags that describe the packet itself; others (e.g. AV_PKT_FLAG_TRUSTED) are demuxer bookkeeping.
constexpr int kHashedFlags = AV_PKT_FLAG_KEY | AV_PKT_FLAG_CORRUPT | AV_PKT_FLAG_DISCARD | AV_PKT_FLAG_DISPOSABLE;

Digest stream_params_digest(const AVFormatContext* fmt) {
  Sha256 h;
  put_u32(h, fmt->nb_streams);
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    const AVCodecParameters* par = st->codecpar;
    put_string(h, av_get_media_type_string(par->codec_type));
    put_string(h, avcodec_get_name(par->codec_id));
    put_u32(h, static_cast<std::uint32_t>(st->time_base.num));
    put_u32(h, static_cast<std::uint32_t>(st->time_base.den));
    const int extradata_size = par->extradata ? par->extradata_size : 0;
    put_u32(h, static_cast<std::uint32_t>(extradata_size));
    h.update(par->extradata, static_cast<std::size_t>(extradata_size));
  }
  return h.finish();
}

int find_video_stream(const AVFormatContext* fmt) {
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Accumulates one segment: its packets go straight into the two digests.
class SegmentBuilder {
 public:
  SegmentBuilder(AVRational video_tb, const Digest& params) : video_tb_(video_tb), params_(params) {}

  bool empty() const { return record_.packet_count == 0; }
  bool has_video_start() const { return record_.start_pts != kNoTimestamp; }
  std::int64_t start_pts() const { return record_.start_pts; }

  void add(const AVPacket& pkt, AVRational pkt_tb, bool is_video) {
    // Timestamps are hashed relative to the segment's first timestamped packet, so a segment moved in
    // time keeps its payload and timing digests; its absolute place is pinned by start/end_pts.
    if (!has_origin_ && (pkt.dts != AV_NOPTS_VALUE || pkt.pts != AV_NOPTS_VALUE)) {
      has_origin_ = true;
      origin_ts_ = pkt.dts != AV_NOPTS_VALUE ? pkt.dts : pkt.pts;
      origin_tb_ = pkt_tb;
    }
    const std::int64_t origin = has_origin_ ? av_rescale_q(origin_ts_, origin_tb_, pkt_tb) : 0;
    auto relative = [&](std::int64_t ts) { return ts == AV_NOPTS_VALUE ? kNoTimestamp : wrap_sub(ts, origin); };

    const auto stream = static_cast<std::uint32_t>(pkt.stream_index);
    put_u32(payload_, stream);
    put_u32(payload_, static_cast<std::uint32_t>(pkt.flags & kHashedFlags));
    put_u64(payload_, static_cast<std::uint64_t>(pkt.size));
    payload_.update(pkt.data, static_cast<std::size_t>(pkt.size));

    put_u32(timing_, stream);
    put_i64(timing_, relative(pkt.pts));
    put_i64(timing_, relative(pkt.dts));

    record_.packet_count += 1;
    record_.byte_length += static_cast<std::uint64_t>(pkt.size);
    if (is_video) {
      const std::int64_t ts = pkt.pts != AV_NOPTS_VALUE ? pkt.pts : pkt.dts;
      if (ts != AV_NOPTS_VALUE) {
        if (record_.start_pts == kNoTimestamp) record_.start_pts = ts;
        // Packet durations are not used: demuxers derive them differently across FFmpeg versions.
        if (record_.end_pts == kNoTimestamp || ts > record_.end_pts) record_.end_pts = ts;
      }
    }
  }

  SegmentRecord finish(std::uint64_t index) {
    SegmentRecord out = record_;
    out.index = index;
    out.time_base_num = video_tb_.num;
    out.time_base_den = video_tb_.den;
    out.payload_digest = payload_.finish();
    out.timing_digest = timing_.finish();
    out.stream_params_digest = params_;
    record_ = SegmentRecord{};
    has_origin_ = false;
    return out;
  }

 private:
  AVRational video_tb_;
  Digest params_;
  SegmentRecord record_;
  Sha256 payload_;
  Sha256 timing_;
  bool has_origin_ = false;
  std::int64_t origin_ts_ = 0;
  AVRational origin_tb_{0, 1};
};

std::unique_ptr<AVFormatContext, FormatCloser> open_input(const std::string& url, const std::string& format) {
  const AVInputFormat* forced = nullptr;
  if (!format.empty()) {
    forced = av_find_input_format(format.c_str());
    if (forced == nullptr) throw InvalidArgument("unknown input format '" + format + "'");
  }
  // Timestamps exactly as stored in the container: libavformat must not infer missing ones (its guesses
  // depend on the FFmpeg version and on probing, which would make hashes unreproducible elsewhere).
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) throw kuzet::Error("cannot allocate an AVFormatContext");
  raw->flags |= AVFMT_FLAG_NOFILLIN;
  const int rc = avformat_open_input(&raw, url.c_str(), forced, nullptr);  // frees raw on failure
  if (rc < 0) throw EvidenceError("cannot open '" + url + "': " + av_error(rc));
  return std::unique_ptr<AVFormatContext, FormatCloser>(raw);
}

}  // namespace

SegmentationResult segment_media(const std::string& url, const SegmenterOptions& options,
                                 const SegmentCallback& on_segment) {
  if (!std::isfinite(options.target_duration_s) || options.target_duration_s < 0 ||
      options.target_duration_s > 86400) {
    throw InvalidArgument("target_duration_s must be between 0 and 86400 seconds");
  }
  // No avformat_find_stream_info(): it may decode frames; container headers give all we need.
  auto fmt = open_input(url, options.input_format);
  const int video = find_video_stream(fmt.get());
  if (video < 0) throw EvidenceError("'" + url + "' has no video stream to segment");
  const AVRational video_tb = fmt->streams[video]->time_base;
  if (video_tb.num <= 0 || video_tb.den <= 0) throw EvidenceError("'" + url + "': video stream has no time base");
  const auto target_ticks =
      static_cast<std::int64_t>(std::llround(options.target_duration_s * video_tb.den / video_tb.num));

  SegmentationResult result;
  result.stream_params_digest = stream_params_digest(fmt.get());
  SegmentBuilder builder(video_tb, result.stream_params_digest);
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt) throw kuzet::Error("cannot allocate an AVPacket");

  auto emit = [&]() {
    const SegmentRecord record = builder.finish(result.segment_count++);
    return on_segment(record);
  };

  bool keep_going = true;
  while (keep_going) {
    const int rc = av_read_frame(fmt.get(), pkt.get());
    if (rc == AVERROR(EAGAIN)) {  // live sources without data yet
      av_usleep(1000);
      continue;
    }
    if (rc == AVERROR_EOF) break;
    if (rc < 0) {
      result.error = "demuxing '" + url + "' stopped: " + av_error(rc);
      break;
    }
    const bool is_video = pkt->stream_index == video;
    if (is_video && (pkt->flags & AV_PKT_FLAG_KEY) && builder.has_video_start()) {
      const std::int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts != AV_NOPTS_VALUE && wrap_sub(ts, builder.start_pts()) >= target_ticks) keep_going = emit();
    }
    if (keep_going) {
      builder.add(*pkt, fmt->streams[pkt->stream_index]->time_base, is_video);
      result.packet_count += 1;
      result.byte_length += static_cast<std::uint64_t>(pkt->size);
    }
    av_packet_unref(pkt.get());
  }
  if (keep_going && !builder.empty()) emit();
  return result;
}

}  // namespace kuzet::hash
