#include "hash/segmenter.hpp"

#include <cmath>
#include <cstring>
#include <map>
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

// A stream's display matrix (rotation, mirroring; e.g. an MP4 track header's), or none.
const std::uint8_t* display_matrix(const AVStream* st, std::size_t* size) {
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 30, 100)
  const AVPacketSideData* sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                       st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
  *size = sd ? sd->size : 0;
  return sd ? sd->data : nullptr;
#else
  for (int i = 0; i < st->nb_side_data; ++i) {
    if (st->side_data[i].type == AV_PKT_DATA_DISPLAYMATRIX) {
      *size = st->side_data[i].size;
      return st->side_data[i].data;
    }
  }
  *size = 0;
  return nullptr;
#endif
}

Digest stream_params_digest(const AVFormatContext* fmt, int version) {
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
    if (version >= 2 && par->codec_type == AVMEDIA_TYPE_VIDEO) {
      // How the picture is shown, which no packet carries: a container edit to any of these turns, mirrors or
      // stretches every frame.
      put_u32(h, static_cast<std::uint32_t>(par->width));
      put_u32(h, static_cast<std::uint32_t>(par->height));
      put_u32(h, static_cast<std::uint32_t>(par->sample_aspect_ratio.num));
      put_u32(h, static_cast<std::uint32_t>(par->sample_aspect_ratio.den));
      std::size_t matrix_size = 0;
      const std::uint8_t* matrix = display_matrix(st, &matrix_size);
      put_u32(h, static_cast<std::uint32_t>(matrix_size));
      h.update(matrix, matrix_size);
    }
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

// One stream's packets within a segment, hashed in demux order.
struct StreamDigests {
  Sha256 payload;  // per packet: u32 flags, u64 size, bytes
  Sha256 timing;   // per packet: i64 pts, i64 dts (as stored; INT64_MIN = none)
  std::uint64_t packets = 0;
};

// Accumulates one segment. Each stream is hashed on its own and the per-stream digests are combined in
// stream order, so a re-mux that only changes how streams are interleaved keeps the digests, while any
// change to a packet, its order within its stream, or its timestamps does not.
class SegmentBuilder {
 public:
  SegmentBuilder(AVRational video_tb, const Digest& params) : video_tb_(video_tb), params_(params) {}

  bool empty() const { return record_.packet_count == 0; }
  bool has_video_start() const { return record_.start_pts != kNoTimestamp; }
  std::int64_t start_pts() const { return record_.start_pts; }

  void add(const AVPacket& pkt, bool is_video) {
    auto& slot = streams_[pkt.stream_index];
    if (!slot) slot = std::make_unique<StreamDigests>();
    StreamDigests& d = *slot;
    put_u32(d.payload, static_cast<std::uint32_t>(pkt.flags & kHashedFlags));
    put_u64(d.payload, static_cast<std::uint64_t>(pkt.size));
    d.payload.update(pkt.data, static_cast<std::size_t>(pkt.size));
    put_i64(d.timing, pkt.pts == AV_NOPTS_VALUE ? kNoTimestamp : pkt.pts);
    put_i64(d.timing, pkt.dts == AV_NOPTS_VALUE ? kNoTimestamp : pkt.dts);
    d.packets += 1;

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
    // digest = SHA256(u32 stream count || per stream, ascending index: u32 index || u64 packets || digest)
    Sha256 payload, timing;
    put_u32(payload, static_cast<std::uint32_t>(streams_.size()));
    put_u32(timing, static_cast<std::uint32_t>(streams_.size()));
    for (auto& [stream, d] : streams_) {
      for (Sha256* h : {&payload, &timing}) {
        put_u32(*h, static_cast<std::uint32_t>(stream));
        put_u64(*h, d->packets);
      }
      const Digest p = d->payload.finish();
      const Digest t = d->timing.finish();
      payload.update(p.data(), p.size());
      timing.update(t.data(), t.size());
    }
    out.payload_digest = payload.finish();
    out.timing_digest = timing.finish();
    out.stream_params_digest = params_;
    record_ = SegmentRecord{};
    streams_.clear();
    return out;
  }

 private:
  AVRational video_tb_;
  Digest params_;
  SegmentRecord record_;
  std::map<int, std::unique_ptr<StreamDigests>> streams_;  // ordered by stream index
};

int interrupt_trampoline(void* opaque) {
  const auto* fn = static_cast<const std::function<bool()>*>(opaque);
  return (*fn)() ? 1 : 0;
}

// A custom read AVIOContext over a ReadBytes callback; freed with its buffer.
struct AvioFree {
  void operator()(AVIOContext* io) const {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
using AvioPtr = std::unique_ptr<AVIOContext, AvioFree>;

int read_trampoline(void* opaque, std::uint8_t* buf, int size) {
  const int n = (*static_cast<const ReadBytes*>(opaque))(buf, size);
  if (n == 0) return AVERROR_EOF;
  return n < 0 ? AVERROR(EIO) : n;
}

AvioPtr make_read_avio(const ReadBytes& read) {
  constexpr int kBufferSize = 64 * 1024;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kBufferSize));
  if (buffer == nullptr) throw kuzet::Error("cannot allocate an I/O buffer");
  AVIOContext* io = avio_alloc_context(buffer, kBufferSize, 0, const_cast<ReadBytes*>(&read), read_trampoline,
                                       nullptr, nullptr);
  if (io == nullptr) {
    av_free(buffer);
    throw kuzet::Error("cannot allocate an AVIOContext");
  }
  io->seekable = 0;
  return AvioPtr(io);
}

// `pb`: read through this I/O context instead of opening `url` (the caller keeps it alive).
std::unique_ptr<AVFormatContext, FormatCloser> open_input(const std::string& url, const std::string& format,
                                                          const std::function<bool()>& should_interrupt,
                                                          AVIOContext* pb = nullptr) {
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
  if (pb != nullptr) {
    raw->pb = pb;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  if (should_interrupt) {
    raw->interrupt_callback.callback = interrupt_trampoline;
    raw->interrupt_callback.opaque = const_cast<std::function<bool()>*>(&should_interrupt);
  }
  const int rc = avformat_open_input(&raw, pb != nullptr ? "" : url.c_str(), forced, nullptr);  // frees raw on failure
  if (rc == AVERROR_EXIT) throw SegmentationInterrupted("opening '" + url + "' was interrupted");
  if (rc < 0) throw EvidenceError("cannot open '" + url + "': " + av_error(rc));
  return std::unique_ptr<AVFormatContext, FormatCloser>(raw);
}

SegmentationResult segment_opened(std::unique_ptr<AVFormatContext, FormatCloser> fmt, const std::string& url,
                                  const SegmenterOptions& options, const SegmentCallback& on_segment);

void check_target(const SegmenterOptions& options) {
  if (!std::isfinite(options.target_duration_s) || options.target_duration_s < 0 ||
      options.target_duration_s > 86400) {
    throw InvalidArgument("target_duration_s must be between 0 and 86400 seconds");
  }
  if (options.stream_params_version != 1 && options.stream_params_version != 2) {
    throw InvalidArgument("stream_params_version must be 1 or 2, got " +
                          std::to_string(options.stream_params_version));
  }
}

}  // namespace

SegmentationResult segment_media(const std::string& url, const SegmenterOptions& options,
                                 const SegmentCallback& on_segment) {
  check_target(options);
  // No avformat_find_stream_info(): it may decode frames; container headers give all we need.
  return segment_opened(open_input(url, options.input_format, options.should_interrupt), url, options, on_segment);
}

SegmentationResult segment_stream(const ReadBytes& read, const std::string& name, const SegmenterOptions& options,
                                  const SegmentCallback& on_segment) {
  check_target(options);
  AvioPtr io = make_read_avio(read);
  // fmt is closed (inside segment_opened) before io is freed: it reads through io until then.
  return segment_opened(open_input(name, options.input_format, options.should_interrupt, io.get()), name, options,
                        on_segment);
}

namespace {

SegmentationResult segment_opened(std::unique_ptr<AVFormatContext, FormatCloser> fmt, const std::string& url,
                                  const SegmenterOptions& options, const SegmentCallback& on_segment) {
  const int video = find_video_stream(fmt.get());
  if (video < 0) throw EvidenceError("'" + url + "' has no video stream to segment");
  const AVRational video_tb = fmt->streams[video]->time_base;
  if (video_tb.num <= 0 || video_tb.den <= 0) throw EvidenceError("'" + url + "': video stream has no time base");
  const auto target_ticks =
      static_cast<std::int64_t>(std::llround(options.target_duration_s * video_tb.den / video_tb.num));

  SegmentationResult result;
  result.stream_params_digest = stream_params_digest(fmt.get(), options.stream_params_version);
  SegmentBuilder builder(video_tb, result.stream_params_digest);
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt) throw kuzet::Error("cannot allocate an AVPacket");

  auto emit = [&]() {
    const SegmentRecord record = builder.finish(result.segment_count++);
    return on_segment(record);
  };

  bool keep_going = true;
  bool interrupted = false;
  while (keep_going) {
    const int rc = av_read_frame(fmt.get(), pkt.get());
    if (rc == AVERROR(EAGAIN)) {  // live sources without data yet
      if (options.should_interrupt && options.should_interrupt()) interrupted = true;
      if (interrupted) break;
      av_usleep(1000);
      continue;
    }
    if (rc == AVERROR_EOF) break;
    if (rc == AVERROR_EXIT) {
      interrupted = true;
      break;
    }
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
      builder.add(*pkt, is_video);
      if (options.on_packet) options.on_packet(is_video);
      result.packet_count += 1;
      result.byte_length += static_cast<std::uint64_t>(pkt->size);
    }
    av_packet_unref(pkt.get());
  }
  // An interrupted recording still seals what it read: the open segment is emitted before reporting.
  if (keep_going && !builder.empty()) emit();
  if (interrupted) throw SegmentationInterrupted("segmenting '" + url + "' was interrupted");
  return result;
}

}  // namespace

}  // namespace kuzet::hash
