#include "decode/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "decode/decode_errors.hpp"
#include "decode/nvdec_support.hpp"

extern "C" {
#include <libavutil/avutil.h>
}

namespace kuzet::decode {

namespace {

bool frame_is_key(const AVFrame* f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}

// FFmpeg's frame-threaded H.264 decoder flags field-coded (PAFF) frames as "not all slices decoded"
// although they decode bit-exactly (checked against the JVT conformance references): ignore that one flag
// for interlaced frames when frame threads are on. Any other error flag still counts.
bool frame_is_corrupt(const AVFrame* f, const AVCodecContext* ctx) {
  int errors = f->decode_error_flags;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  const bool interlaced = (f->flags & AV_FRAME_FLAG_INTERLACED) != 0;
#else
  const bool interlaced = f->interlaced_frame != 0;
#endif
  if (interlaced && (ctx->active_thread_type & FF_THREAD_FRAME) && ctx->thread_count > 1) {
    errors &= ~FF_DECODE_ERROR_DECODE_SLICES;
  }
  return errors != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT) != 0;
}

const uint8_t* stream_side_data(const AVStream* stream, AVPacketSideDataType type) {
#if LIBAVFORMAT_VERSION_MAJOR >= 61
  const AVPacketSideData* sd = av_packet_side_data_get(stream->codecpar->coded_side_data,
                                                       stream->codecpar->nb_coded_side_data, type);
  return sd ? sd->data : nullptr;
#else
  return av_stream_get_side_data(stream, type, nullptr);
#endif
}

}  // namespace

Decoder::Decoder(SourceSpec spec, DecoderOptions options) : options_(std::move(options)) {
  device_ = make_device(options_.device, options_.nvdec_fallback);  // fails fast, before any I/O
  if (device_->name() == "cpu" && options_.device != "cpu") {  // "auto", or "cuda[:N]" with nvdec_fallback
    fallback_reason_ = options_.device == "auto" ? nvdec_status().reason : nvdec_prerequisites().reason;
  }
  cancel_ = spec.cancel;
  source_ = std::make_unique<Source>(std::move(spec));
  spec_name_ = source_->name();
  try {
    open_codec();
  } catch (...) {
    av_frame_free(&frame_);
    av_packet_free(&packet_);
    avcodec_free_context(&codec_);
    throw;
  }
}

Decoder::~Decoder() {
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  avcodec_free_context(&codec_);
}

void Decoder::open_codec() {
  AVFormatContext* fmt = source_->format();
  const std::string& name = source_->name();
  if (fmt->nb_streams == 0) {
    const char* format = fmt->iformat->long_name ? fmt->iformat->long_name : fmt->iformat->name;
    throw CorruptStream(name + ": the " + format + " container holds no readable stream (truncated or damaged)");
  }
  const int index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0 || (fmt->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
    throw NotAVideo(name + ": has no video stream (only " + std::to_string(fmt->nb_streams) +
                    " audio/data stream(s))");
  }
  if (fmt->iformat && std::strcmp(fmt->iformat->name, "tty") == 0) {
    // FFmpeg's "tty" demuxer renders any text file as ANSI art; a text file is not a video.
    throw NotAVideo(name + ": not a video (a text file)");
  }
  stream_ = fmt->streams[index];
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    if (static_cast<int>(i) != index && !is_tapped(static_cast<int>(i))) {
      fmt->streams[i]->discard = AVDISCARD_ALL;  // demux video only (and what the packet tap takes)
    }
  }
  if (stream_side_data(stream_, AV_PKT_DATA_ENCRYPTION_INIT_INFO)) {
    throw EncryptedStream(name + ": the video stream is encrypted (CENC); it cannot be decoded without keys");
  }
  const AVCodecParameters* par = stream_->codecpar;
  const AVCodec* software = avcodec_find_decoder(par->codec_id);
  // On NVDEC, a decoder with a CUDA hw config (AV1: FFmpeg's native one, not the default libdav1d).
  const AVCodec* hardware = device_->name() == "cpu" ? nullptr : nvdec_decoder_for(par->codec_id);
  const AVCodec* codec = hardware ? hardware : software;
  if (!codec) {
    char tag[AV_FOURCC_MAX_STRING_SIZE] = {0};
    av_fourcc_make_string(tag, par->codec_tag);
    throw UnsupportedCodec(name + ": no decoder for video codec '" + avcodec_get_name(par->codec_id) +
                           "' (codec tag " + tag + ") in this FFmpeg build");
  }
  packet_ = av_packet_alloc();
  frame_ = av_frame_alloc();
  if (!packet_ || !frame_) throw DecodeError(name + ": out of memory");
  open_codec_context(codec);
  if (const std::string why = device_->cannot_decode(codec_); !why.empty()) {
    if (options_.device != "auto" && !options_.nvdec_fallback) {
      throw DeviceUnavailable(name + ": device '" + options_.device + "': " + why);
    }
    fallback_reason_ = why;  // decode this stream on the CPU instead
    device_ = make_device("cpu");
    if (codec != software) {  // the NVDEC decoder may decode nothing without hardware (FFmpeg's av1)
      if (!software) throw UnsupportedCodec(name + ": no software decoder for video codec '" +
                                            avcodec_get_name(par->codec_id) + "' in this FFmpeg build (" + why + ")");
      codec = software;
      avcodec_free_context(&codec_);
      open_codec_context(codec);
    }
  }
  device_->configure_codec(codec_, options_.threads);
  const int ret = avcodec_open2(codec_, codec, nullptr);
  if (ret < 0) {
    throw UnsupportedCodec(name + ": cannot open the " + codec->name + " decoder (" + av_error_text(ret) + ")");
  }
  metadata_ = read_metadata(fmt, stream_, codec_);
}

void Decoder::open_codec_context(const AVCodec* codec) {
  codec_ = avcodec_alloc_context3(codec);
  if (!codec_) throw DecodeError(spec_name_ + ": out of memory");
  const int ret = avcodec_parameters_to_context(codec_, stream_->codecpar);
  if (ret < 0) throw DecodeError(spec_name_ + ": bad codec parameters (" + av_error_text(ret) + ")");
  codec_->pkt_timebase = stream_->time_base;
  // Apply the stream's left cropping exactly: by default FFmpeg leaves up to 63 columns of it in the picture
  // to keep rows aligned (kuzet's converters need no alignment; NVDEC frames are cropped exactly too).
  codec_->flags |= AV_CODEC_FLAG_UNALIGNED;
}

void Decoder::set_packet_tap(std::function<void(const AVPacket&)> tap, const std::vector<int>& extra_streams) {
  packet_tap_ = std::move(tap);
  AVFormatContext* fmt = source_->format();
  tapped_.assign(fmt->nb_streams, false);
  for (const int i : extra_streams) {
    if (i < 0 || i >= static_cast<int>(fmt->nb_streams) || i == stream_->index) {
      throw InvalidArgument(spec_name_ + ": the packet tap asked for stream " + std::to_string(i) +
                            ", which is not another stream of this source");
    }
    tapped_[static_cast<std::size_t>(i)] = true;
    fmt->streams[i]->discard = AVDISCARD_DEFAULT;
  }
}

bool Decoder::rtcp_synchronised() const {
  const AVFormatContext* fmt = source_->format();
  if (!fmt || !fmt->iformat || fmt->nb_streams < 2) return false;  // rtpdec leaves a lone stream on its RTP clock
  const std::string name = fmt->iformat->name;
  return name == "rtsp" || name == "sdp" || name == "rtp";
}

bool Decoder::is_tapped(int stream_index) const {
  return packet_tap_ && stream_index >= 0 && static_cast<std::size_t>(stream_index) < tapped_.size() &&
         tapped_[static_cast<std::size_t>(stream_index)];
}

std::vector<const AVStream*> Decoder::streams() const {
  const AVFormatContext* fmt = source_->format();
  return std::vector<const AVStream*>(fmt->streams, fmt->streams + fmt->nb_streams);
}

void Decoder::check_not_encrypted(const AVPacket* pkt) const {
  if (av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, nullptr)) {
    throw EncryptedStream(source_->name() +
                          ": the video stream is encrypted (CENC/cbcs); it cannot be decoded without keys");
  }
}

void Decoder::throw_read_error(int ret) const {
  const std::string& name = source_->name();
  if (source_->timed_out()) {
    throw StreamTimeout(name + ": no data for " + std::to_string(source_->spec().timeout_s) + " s");
  }
  if (source_->aborted()) throw DecodeError(name + ": reading was stopped (reader closed)");
  const std::string& io = *source_->spec().io_error;
  throw DecodeError(name + ": read failed (" + (io.empty() ? av_error_text(ret) : io) + ")");
}

void Decoder::feed_packet() {
  AVFormatContext* fmt = source_->format();
  while (true) {
    source_->arm_deadline();
    int ret = av_read_frame(fmt, packet_);
    if (ret < 0) {
      if (ret != AVERROR_EOF) {
        // The error is raised after the frames still inside the decoder are handed out: none is lost.
        try {
          if (source_->timed_out() || source_->aborted() || !source_->spec().io_error->empty()) {
            throw_read_error(ret);
          }
          // The container itself is damaged past this point.
          ++stats_.corrupt;
          if (!options_.skip_errors) {
            throw CorruptStream(source_->name() + ": damaged container after frame " +
                                std::to_string(next_index_) + " (" + av_error_text(ret) + ")");
          }
        } catch (...) {
          deferred_error_ = std::current_exception();
        }
      }
      avcodec_send_packet(codec_, nullptr);  // drain the frames still inside the decoder
      draining_ = true;
      return;
    }
    if (packet_->stream_index != stream_->index) {
      // e.g. audio kept by a live recording; a stream that appeared after the tap was set goes to it too,
      // so that it can tell it does not take it
      const bool late = packet_tap_ && static_cast<std::size_t>(packet_->stream_index) >= tapped_.size();
      if (late || is_tapped(packet_->stream_index)) packet_tap_(*packet_);
      av_packet_unref(packet_);
      continue;
    }
    check_not_encrypted(packet_);
    if (packet_tap_) packet_tap_(*packet_);
    ret = avcodec_send_packet(codec_, packet_);
    av_packet_unref(packet_);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      ++stats_.corrupt;
      if (!options_.skip_errors) {
        throw CorruptStream(source_->name() + ": corrupt video packet after frame " + std::to_string(next_index_) +
                            " (" + av_error_text(ret) + ")");
      }
      ++stats_.skipped;
    }
    return;
  }
}

bool Decoder::receive(DecodedFrame& out) {
  while (true) {
    const int ret = avcodec_receive_frame(codec_, frame_);
    if (ret == 0) {
      int64_t pts = frame_->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE) {
        // No timestamp at all (some raw streams): continue from the previous one at the nominal rate.
        const AVRational rate = stream_->r_frame_rate.num > 0 ? stream_->r_frame_rate : AVRational{25, 1};
        const int64_t step = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), stream_->time_base));
        pts = last_pts_ == AV_NOPTS_VALUE ? 0 : last_pts_ + step;
      }
      out.frame = frame_;
      out.pts_raw = pts;
      out.pts = static_cast<double>(pts) * av_q2d(stream_->time_base);
      out.key_frame = frame_is_key(frame_);
      return true;
    }
    if (ret == AVERROR_EOF) {
      finished_ = true;
      if (deferred_error_) std::rethrow_exception(std::exchange(deferred_error_, nullptr));
      return false;
    }
    if (ret != AVERROR(EAGAIN)) {
      // Damage right at a read error is a consequence of it: report the read error itself.
      if (deferred_error_) std::rethrow_exception(std::exchange(deferred_error_, nullptr));
      ++stats_.corrupt;
      if (!options_.skip_errors) {
        throw CorruptStream(source_->name() + ": decoding failed after frame " + std::to_string(next_index_) +
                            " (" + av_error_text(ret) + ")");
      }
      ++stats_.skipped;
      continue;
    }
    if (draining_) {  // a drained decoder answers EOF; EAGAIN here means nothing more will come
      finished_ = true;
      if (deferred_error_) std::rethrow_exception(std::exchange(deferred_error_, nullptr));
      return false;
    }
    feed_packet();
  }
}

void Decoder::check_usable() const {
  if (broken_) throw DecodeError(spec_name_ + ": the reader could not reopen its source and is unusable");
}

bool Decoder::next(DecodedFrame& out) {
  check_usable();
  if (pending_) {
    pending_ = false;
    out = pending_info_;
    out.frame = frame_;
  } else {
    while (true) {
      if (!next_position(out)) {
        check_not_empty();
        return false;
      }
      if (!frame_is_corrupt(frame_, codec_)) break;
      if (deferred_error_) std::rethrow_exception(std::exchange(deferred_error_, nullptr));
      ++stats_.corrupt;
      if (!options_.skip_errors) {
        throw CorruptStream(source_->name() + ": frame " + std::to_string(out.index) +
                            " decoded with errors (damaged bitstream)");
      }
      ++stats_.skipped;  // its index stays taken: frame i is the same frame read in order or by position
    }
  }
  next_index_ = out.index + 1;
  last_pts_ = out.pts_raw;
  ++stats_.decoded;
  return true;
}

bool Decoder::next_position(DecodedFrame& out) {
  if (finished_ || !receive(out)) return false;
  out.index = next_index_++;
  last_pts_ = out.pts_raw;
  return true;
}

void Decoder::check_not_empty() {
  if (next_index_ > 0 || metadata_.frame_count <= 0 || empty_reported_) return;
  // The container lists frames but none could be read: its media data is missing or cut off.
  empty_reported_ = true;
  ++stats_.corrupt;
  if (!options_.skip_errors) {
    throw CorruptStream(source_->name() + ": the container lists " + std::to_string(metadata_.frame_count) +
                        " frames but none could be decoded (media data missing or truncated)");
  }
}

void Decoder::restart() {
  if (!source_->seekable()) {
    throw DecodeError(source_->name() + ": the source is not seekable, so frames cannot be fetched by position");
  }
  // Reopening gives exactly the state of the first pass, which a container seek on a damaged or
  // index-less file does not guarantee.
  SourceSpec spec = source_->spec();
  if (spec.kind == SourceSpec::Kind::Callbacks && spec.seek(0, SEEK_SET) < 0) {
    throw DecodeError(spec.name + ": cannot seek the file object back to its start");
  }
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  avcodec_free_context(&codec_);
  source_.reset();
  try {
    source_ = std::make_unique<Source>(std::move(spec));
    open_codec();
  } catch (...) {
    broken_ = true;  // no source or codec any more: every later call reports it
    throw;
  }
  draining_ = finished_ = pending_ = false;
  deferred_error_ = nullptr;
  next_index_ = 0;
  last_pts_ = AV_NOPTS_VALUE;
}

void Decoder::build_index_from_packets() {
  // From a reopened source: a container seek to "the start" is not exact everywhere (MPEG-TS seeks by decode
  // time and lands after the first packets when the stream has B-frames).
  restart();
  struct Entry {
    int64_t pts;
    int64_t dts;
    bool key;
  };
  std::vector<Entry> entries;
  bool usable = true;
  AVFormatContext* fmt = source_->format();
  while (true) {
    source_->arm_deadline();
    const int ret = av_read_frame(fmt, packet_);
    if (ret < 0) {
      if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA) throw_read_error(ret);
      break;
    }
    if (packet_->stream_index == stream_->index && packet_->size > 0 && !(packet_->flags & AV_PKT_FLAG_DISCARD)) {
      if (packet_->pts == AV_NOPTS_VALUE) usable = false;
      entries.push_back({packet_->pts, packet_->dts, (packet_->flags & AV_PKT_FLAG_KEY) != 0});
    }
    av_packet_unref(packet_);
    if (!usable) break;
  }
  restart();
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.pts < b.pts; });
  for (size_t i = 1; usable && i < entries.size(); ++i) usable = entries[i].pts != entries[i - 1].pts;
  if (!usable || entries.empty()) return;
  pts_index_.clear();
  key_indices_.clear();
  key_seek_ts_.clear();
  for (size_t i = 0; i < entries.size(); ++i) {
    pts_index_.push_back(entries[i].pts);
    if (entries[i].key) {
      key_indices_.push_back(static_cast<int64_t>(i));
      // Demuxers seek by decode time (MP4's index, MPEG-TS's search) or by presentation time (Matroska's
      // cues); the key frame's dts is at or before both, so a backward seek to it never lands after it.
      key_seek_ts_.push_back(entries[i].dts != AV_NOPTS_VALUE ? std::min(entries[i].dts, entries[i].pts)
                                                              : entries[i].pts);
    }
  }
  index_from_packets_ = packets_match_first_frames();
}

bool Decoder::packets_match_first_frames() {
  // The packets' timestamps are what a container claims; the frames are what the decoder makes of them. A
  // file cut in the middle of a GOP (frames before its first key frame are dropped), or whose first frames
  // carry no timestamps, differ at the start: then the index is built by decoding instead.
  // Damaged frames are compared too (by timestamp); damage the decoder cannot get past ends the check there.
  const size_t checked = std::min<size_t>(pts_index_.size(), kIndexCheckFrames);
  const DecodeStats saved = stats_;
  DecodedFrame f;
  bool same = true;
  try {
    for (size_t i = 0; same && i < checked; ++i) same = next_position(f) && f.pts_raw == pts_index_[i];
  } catch (const CorruptStream&) {
  }
  stats_ = saved;
  restart();
  return same;
}

void Decoder::build_index_by_decoding() {
  const DecodeStats saved = stats_;
  restart();
  pts_index_.clear();
  key_indices_.clear();
  key_seek_ts_.clear();
  DecodedFrame f;
  while (next_position(f)) {  // every frame the decoder outputs, damaged ones too: they take an index
    pts_index_.push_back(f.pts_raw);
    if (f.key_frame) key_indices_.push_back(f.index);
  }
  restart();
  stats_ = saved;
  index_from_packets_ = false;
}

const std::vector<int64_t>& Decoder::frame_pts() {
  check_usable();
  if (!index_built_) {
    build_index_from_packets();
    if (!index_from_packets_) build_index_by_decoding();
    index_built_ = true;
  }
  return pts_index_;
}

bool Decoder::try_seek_to_index(int64_t index) {
  const int64_t target = pts_index_[static_cast<size_t>(index)];
  const auto key_it = std::upper_bound(key_indices_.begin(), key_indices_.end(), index);
  const int64_t key = key_it == key_indices_.begin() ? -1 : *(key_it - 1);
  const bool forward = !pending_ && next_index_ <= index && key <= next_index_ && !finished_;
  bool at_key = true;  // decoding goes on from a state known to be right
  if (!forward) {
    if (key <= 0) {
      restart();
    } else {
      const int64_t seek_ts = key_seek_ts_[static_cast<size_t>(key_it - 1 - key_indices_.begin())];
      const int ret = av_seek_frame(source_->format(), stream_->index, seek_ts, AVSEEK_FLAG_BACKWARD);
      if (ret < 0) return false;
      avcodec_flush_buffers(codec_);
      draining_ = finished_ = pending_ = false;
      deferred_error_ = nullptr;
      at_key = false;
    }
  }
  pending_ = false;
  const int64_t key_pts = key >= 0 ? pts_index_[static_cast<size_t>(key)] : target;
  DecodedFrame f;
  while (receive(f)) {
    if (!at_key) {
      // The first frame at or after the key frame's time must be the key frame itself: a seek that landed
      // past it decodes frames without their references, with the right timestamps and wrong pixels.
      if (f.pts_raw < key_pts) continue;
      if (f.pts_raw != key_pts) return false;
      at_key = true;
    }
    if (f.pts_raw < target) continue;  // frames before the target (possibly damaged by the seek)
    if (f.pts_raw > target) return false;
    hold_fetched(f, index);
    return true;
  }
  return false;
}

void Decoder::seek_to_index(int64_t index) {
  check_usable();
  const auto& pts = frame_pts();
  if (index < 0 || index >= static_cast<int64_t>(pts.size())) {
    throw InvalidArgument(source_->name() + ": frame index " + std::to_string(index) + " is out of range (" +
                          std::to_string(pts.size()) + " frames)");
  }
  if (pending_ && next_index_ == index) return;
  if (index_from_packets_) {
    if (try_seek_to_index(index)) return;
    // The packet index disagrees with what the decoder outputs: index by decoding instead.
    build_index_by_decoding();
    if (index >= static_cast<int64_t>(pts_index_.size())) {
      throw InvalidArgument(source_->name() + ": frame index " + std::to_string(index) + " is out of range (" +
                            std::to_string(pts_index_.size()) + " frames)");
    }
  }
  // Without a usable packet index: decode forward from here or from the start, counting frames (damaged
  // frames before the target included: they are not handed out).
  if (pending_ || next_index_ > index) restart();
  DecodedFrame f;
  const DecodeStats saved = stats_;
  do {
    if (!next_position(f)) {
      throw DecodeError(source_->name() + ": stream ended before frame " + std::to_string(index));
    }
  } while (f.index < index);
  stats_ = saved;
  hold_fetched(f, index);
}

void Decoder::hold_fetched(DecodedFrame f, int64_t index) {
  if (frame_is_corrupt(frame_, codec_)) {  // asked for by position, it cannot be skipped as in reading in order
    ++stats_.corrupt;
    throw CorruptStream(source_->name() + ": frame " + std::to_string(index) + " decoded with errors");
  }
  f.index = index;
  pending_info_ = f;
  pending_ = true;
  next_index_ = index;
}

}  // namespace kuzet::decode
