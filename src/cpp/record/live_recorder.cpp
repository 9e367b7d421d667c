#include "record/live_recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/errors.hpp"
#include "hash/segmenter.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace kuzet::record {

namespace {

constexpr std::size_t kPipeCapacity = 32u << 20;  // the segmenter only hashes: it never falls far behind
constexpr int kIoBufferSize = 64 * 1024;
constexpr std::size_t kRecentFrames = 4096;  // pts -> segment kept for frames still inside the decoder
constexpr std::size_t kMaxHeldPackets = 64;  // untimed packets held at the start before dating them anyway

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// FFmpeg 7 made the write callback's buffer const.
#if defined(FF_API_AVIO_WRITE_NONCONST) && !FF_API_AVIO_WRITE_NONCONST
int write_trampoline(void* opaque, const std::uint8_t* buf, int size) {
#else
int write_trampoline(void* opaque, std::uint8_t* buf, int size) {
#endif
  return static_cast<LiveRecorder*>(opaque)->write_bytes(buf, size);
}

// Video codecs FFmpeg's MPEG-TS muxer gives a standard stream type (others become private data).
bool mpegts_carries(AVCodecID codec) {
  switch (codec) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_MPEG1VIDEO:
    case AV_CODEC_ID_MPEG2VIDEO:
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_VC1:
    case AV_CODEC_ID_CAVS:
    case AV_CODEC_ID_DIRAC:
      return true;
    default:
      return false;
  }
}

}  // namespace

LiveRecorder::LiveRecorder(std::string path, const AVStream& video, double target_duration_s, RecorderEvents events)
    : path_(std::move(path)), events_(std::move(events)), pipe_(kPipeCapacity) {
  if (!std::isfinite(target_duration_s) || target_duration_s < 0 || target_duration_s > 86400) {
    throw InvalidArgument("target_duration_s must be between 0 and 86400 seconds");
  }
  // O_EXCL: evidence is never overwritten.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw kuzet::Error("cannot create the recording '" + path_ + "': " + std::strerror(errno));
  try {
    open_muxer(video, target_duration_s);  // its header waits in the pipe for the segmenter
  } catch (...) {
    finished_ = true;
    close_output();
    ::unlink(path_.c_str());  // created by us (O_EXCL) and holding nothing: no stray "recording"
    throw;
  }
  segmenter_ = std::thread([this, target_duration_s] { segment_thread(target_duration_s); });
}

LiveRecorder::~LiveRecorder() { finish(); }

void LiveRecorder::open_muxer(const AVStream& video, double target_duration_s) {
  if (!mpegts_carries(video.codecpar->codec_id)) {
    // FFmpeg would mux it as opaque private data, which nothing (the segmenter included) reads back as video.
    throw kuzet::Error("recording '" + path_ + "': MPEG-TS cannot carry " +
                       avcodec_get_name(video.codecpar->codec_id) + " video; this connection is not recorded");
  }
  if (avformat_alloc_output_context2(&muxer_, nullptr, "mpegts", nullptr) < 0 || !muxer_) {
    throw kuzet::Error("recording '" + path_ + "': cannot allocate the MPEG-TS muxer");
  }
  AVStream* st = avformat_new_stream(muxer_, nullptr);
  if (!st || avcodec_parameters_copy(st->codecpar, video.codecpar) < 0) {
    throw kuzet::Error("recording '" + path_ + "': cannot set up the video stream");
  }
  st->codecpar->codec_tag = 0;  // the input container's tag means nothing in MPEG-TS
  st->time_base = video.time_base;
  in_tb_num_ = video.time_base.num;
  in_tb_den_ = video.time_base.den;
  const AVRational rate = video.avg_frame_rate.num > 0 ? video.avg_frame_rate : video.r_frame_rate;
  if (rate.num > 0 && rate.den > 0) {
    frame_step_ = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(rate), video.time_base));
  }
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kIoBufferSize));
  if (!buffer) throw kuzet::Error("recording '" + path_ + "': out of memory");
  io_ = avio_alloc_context(buffer, kIoBufferSize, 1, this, nullptr, write_trampoline, nullptr);
  if (!io_) {
    av_free(buffer);
    throw kuzet::Error("recording '" + path_ + "': out of memory");
  }
  muxer_->pb = io_;
  const int rc = avformat_write_header(muxer_, nullptr);
  if (rc < 0) {  // e.g. a codec MPEG-TS cannot carry
    throw kuzet::Error("recording '" + path_ + "': cannot start MPEG-TS (" + av_error(rc) + ")");
  }
  if (!commit()) throw kuzet::Error("recording '" + path_ + "': cannot write its header");
  // The segmenter rule in the muxer's time base (MPEG-TS: 1/90000), as the segmenter will see it.
  const AVRational out_tb = st->time_base;
  target_ticks_ = static_cast<std::int64_t>(std::llround(target_duration_s * out_tb.den / out_tb.num));
}

int LiveRecorder::write_bytes(const std::uint8_t* buf, int size) {
  std::size_t done = 0;
  while (done < static_cast<std::size_t>(size)) {
    const ssize_t n = ::write(fd_, buf + done, static_cast<std::size_t>(size) - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int code = n < 0 ? errno : ENOSPC;
      fail("writing the recording '" + path_ + "' failed: " + std::strerror(code) +
           "; the recording ends with the last packet written whole");
      return AVERROR(code);
    }
    done += static_cast<std::size_t>(n);
  }
  uncommitted_.insert(uncommitted_.end(), buf, buf + size);
  return size;
}

bool LiveRecorder::commit() {
  avio_flush(io_);
  if (io_->error < 0 || failed_) {
    // The file goes back to its last whole packet: it and the segmenter's bytes end at the same place.
    if (::ftruncate(fd_, committed_) != 0) {
      fail("recording '" + path_ + "': cannot cut it back to its last whole packet: " + std::strerror(errno));
    }
    uncommitted_.clear();
    return false;
  }
  pipe_.write(uncommitted_.data(), uncommitted_.size());
  committed_ += static_cast<off_t>(uncommitted_.size());
  uncommitted_.clear();
  return true;
}

void LiveRecorder::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  if (events_.error) events_.error(why);
}

void LiveRecorder::predict(bool key, std::int64_t muxed_ts, std::int64_t decoder_ts) {
  std::lock_guard<std::mutex> lock(mutex_);
  // hash/segmenter.cpp's rule: a key packet closes the segment once it is `target` past the segment's start.
  if (key && muxed_ts != hash::kNoTimestamp && segment_start_ != hash::kNoTimestamp &&
      muxed_ts - segment_start_ >= target_ticks_) {
    ++segment_;
    segment_start_ = hash::kNoTimestamp;
  }
  if (muxed_ts != hash::kNoTimestamp && segment_start_ == hash::kNoTimestamp) segment_start_ = muxed_ts;
  Coverage& c = coverage_[segment_];
  c.packets += 1;
  if (decoder_ts != hash::kNoTimestamp) {
    if (c.first_pts == hash::kNoTimestamp || decoder_ts < c.first_pts) c.first_pts = decoder_ts;
    if (c.last_pts == hash::kNoTimestamp || decoder_ts > c.last_pts) c.last_pts = decoder_ts;
    recent_pts_[decoder_ts] = segment_;
    if (recent_pts_.size() > kRecentFrames) recent_pts_.erase(recent_pts_.begin());
  }
}

void LiveRecorder::packet(const AVPacket& in) {
  if (failed_ || finished_) return;
  AVPacket* copy = av_packet_clone(&in);
  if (!copy) {
    fail("recording '" + path_ + "': out of memory");
    return;
  }
  if (have_offset_) {
    write_packet(copy);
    return;
  }
  // MPEG-TS must start from a decode timestamp. RTSP hands out its first packets untimed until the
  // stream's clock is known: hold them until one carries a dts, then date them back from it.
  held_.push_back(copy);
  if (in.dts == AV_NOPTS_VALUE && held_.size() < kMaxHeldPackets) return;
  release_held();
}

void LiveRecorder::release_held() {
  std::size_t known = 0;
  while (known < held_.size() && held_[known]->dts == AV_NOPTS_VALUE) ++known;
  const std::int64_t anchor = known < held_.size() ? held_[known]->dts : static_cast<std::int64_t>(known) * frame_step_;
  for (std::size_t i = 0; i < known; ++i) {
    held_[i]->dts = anchor - static_cast<std::int64_t>(known - i) * frame_step_;
  }
  offset_ = held_.front()->dts;
  last_dts_ = offset_ - 1;
  have_offset_ = true;
  while (!held_.empty()) {
    AVPacket* p = held_.front();
    held_.pop_front();
    write_packet(p);
  }
}

void LiveRecorder::write_packet(AVPacket* p) {
  // Missing timestamps are filled (recorded and signed as filled): dts just after the previous one, pts = dts.
  if (p->dts == AV_NOPTS_VALUE) {
    p->dts = last_dts_ + 1;
  } else if (p->dts <= last_dts_) {
    // Resent or reordered in transit: MPEG-TS (like every muxer) needs increasing decode timestamps, and
    // one such packet must not end the recording. It is left out of the recording (its frame then names no
    // segment) and reported: the first one at once, the total when the connection ends.
    av_packet_free(&p);
    if (++unordered_packets_ == 1 && events_.error)
      events_.error("recording '" + path_ + "': a packet whose decode timestamp does not increase (resent or "
                    "reordered in transit) was left out of the recording");
    return;
  }
  if (p->pts == AV_NOPTS_VALUE) p->pts = p->dts;
  last_dts_ = p->dts;
  const std::int64_t decoder_pts = p->pts;
  const bool key = (p->flags & AV_PKT_FLAG_KEY) != 0;
  p->stream_index = 0;
  p->pos = -1;
  p->pts -= offset_;
  p->dts -= offset_;
  av_packet_rescale_ts(p, AVRational{in_tb_num_, in_tb_den_}, muxer_->streams[0]->time_base);
  predict(key, p->pts, decoder_pts);
  if (failed_) {
    av_packet_free(&p);
    return;
  }
  const int rc = av_write_frame(muxer_, p);
  av_packet_free(&p);
  if (rc < 0) fail("recording '" + path_ + "': cannot write a packet (" + av_error(rc) + ")");
  commit();  // the segmenter sees the packet now (or, on failure, the file is cut back)
}

std::int64_t LiveRecorder::segment_of(std::int64_t pts) const {
  if (failed_) return -1;  // what follows is not in the recording
  std::lock_guard<std::mutex> lock(mutex_);
  if (recent_pts_.empty()) return -1;
  auto it = recent_pts_.find(pts);
  if (it != recent_pts_.end()) return it->second;
  it = recent_pts_.upper_bound(pts);  // a frame without its own packet pts: the packet shown before it
  if (it == recent_pts_.begin()) return -1;
  return std::prev(it)->second;
}

void LiveRecorder::segment_thread(double target_duration_s) {
  hash::SegmenterOptions options;
  options.target_duration_s = target_duration_s;
  options.input_format = "mpegts";
  auto on_segment = [this](const hash::SegmentRecord& r) {
    // The recording must hold the segment before a manifest claims it.
    if (fd_ >= 0) ::fdatasync(fd_);
    ClosedSegment closed;
    closed.record = r;
    closed.time_base_num = in_tb_num_;
    closed.time_base_den = in_tb_den_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = coverage_.find(static_cast<std::int64_t>(r.index));
      closed.prediction_confirmed = it != coverage_.end() && it->second.packets == r.packet_count;
      if (it != coverage_.end()) {
        closed.first_pts = it->second.first_pts;
        closed.last_pts = it->second.last_pts;
        coverage_.erase(it);
      }
    }
    if (events_.segment) events_.segment(closed);
    return true;
  };
  std::string error;
  try {
    const hash::SegmentationResult result =
        hash::segment_stream([this](std::uint8_t* b, int n) { return pipe_.read(b, n); }, path_, options, on_segment);
    error = result.error;
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty() && events_.error) events_.error("segmenting the recording '" + path_ + "': " + error);
  // Whatever stopped the segmenter, the writer must never block on a full pipe.
  std::uint8_t sink[4096];
  while (pipe_.read(sink, sizeof sink) > 0) {
  }
}

void LiveRecorder::finish() {
  if (finished_) return;
  finished_ = true;
  if (muxer_ && !failed_ && !held_.empty()) release_held();  // a stream that never gave a timestamp
  if (muxer_ && !failed_) {
    const int rc = av_write_trailer(muxer_);
    if (rc < 0) fail("recording '" + path_ + "': cannot finish the MPEG-TS file (" + av_error(rc) + ")");
    commit();
  }
  if (unordered_packets_ > 1 && events_.error)
    events_.error("recording '" + path_ + "': " + std::to_string(unordered_packets_) +
                  " packets whose decode timestamp did not increase were left out of the recording");
  pipe_.close();  // the segmenter seals the segment in progress: what was received, up to the end
  if (segmenter_.joinable()) segmenter_.join();
  close_output();
}

void LiveRecorder::close_output() {
  if (muxer_) {
    avformat_free_context(muxer_);  // custom I/O: io_ is ours to free
    muxer_ = nullptr;
  }
  if (io_) {
    av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
  for (AVPacket*& p : held_) av_packet_free(&p);
  held_.clear();
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace kuzet::record
