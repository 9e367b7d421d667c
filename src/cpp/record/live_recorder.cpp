#include "record/live_recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>

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
constexpr std::size_t kMaxHeldPackets = 256;  // packets held at the start (untimed video) before dating them anyway
constexpr double kAudioLeadS = 10.0;  // with audio: how much earlier than the first video packet audio may start
// RTSP: how long (audio time) an audio stream waits for its first RTCP sender report. RFC 3550 senders report
// every 5 s or so; FFmpeg's first report goes with its first packet.
constexpr double kSyncWaitS = 10.0;
constexpr std::size_t kMaxSyncHeld = 4096;  // audio packets held meanwhile, at most
constexpr int kVideoJumpWindow = 8;  // video packets, from its first reported one, in which its jump shows

double seconds(std::int64_t ts, int num, int den) { return static_cast<double>(ts) * num / den; }

std::string milliseconds(double s) { return std::to_string(std::llround(s * 1000)) + " ms"; }

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

// Audio codecs FFmpeg's MPEG-TS muxer gives a stream type its demuxer (and players) read back as that codec.
bool mpegts_carries_audio(AVCodecID codec) {
  switch (codec) {
    case AV_CODEC_ID_AAC:       // 0x0F (ADTS; raw AAC is given ADTS headers from its extradata)
    case AV_CODEC_ID_AAC_LATM:  // 0x11
    case AV_CODEC_ID_MP2:       // 0x03 / 0x04
    case AV_CODEC_ID_MP3:
    case AV_CODEC_ID_AC3:   // 0x81
    case AV_CODEC_ID_EAC3:  // 0x87
    case AV_CODEC_ID_DTS:   // 0x82 (as in ATSC and Blu-ray; FFmpeg reads it back as DTS)
    case AV_CODEC_ID_OPUS:  // private data with the "Opus" registration descriptor (ETSI TS 102 366)
      return true;
    default:
      return false;
  }
}

std::string describe(const AVStream& st) {
  const char* type = av_get_media_type_string(st.codecpar->codec_type);
  return std::string(type ? type : "unknown") + " stream " + std::to_string(st.index) + " (" +
         avcodec_get_name(st.codecpar->codec_id) + ")";
}

// Why a stream of the connection other than the decoded video is not recorded ("" when it is).
std::string why_not_recorded(const AVStream& st) {
  const AVCodecParameters& par = *st.codecpar;
  if (par.codec_type != AVMEDIA_TYPE_AUDIO) return "only the decoded video and its audio are recorded";
  if (!mpegts_carries_audio(par.codec_id)) {
    return std::string("MPEG-TS cannot carry ") + avcodec_get_name(par.codec_id) +
           " audio (it carries AAC, MP2/MP3, AC-3, E-AC-3, DTS and Opus)";
  }
  if (st.time_base.num <= 0 || st.time_base.den <= 0) return "it has no time base";
  return "";
}

}  // namespace

LiveRecorder::LiveRecorder(std::string path, const AVStream& video, const std::vector<const AVStream*>& streams,
                           double target_duration_s, RecorderEvents events)
    : path_(std::move(path)), events_(std::move(events)), pipe_(kPipeCapacity) {
  if (!std::isfinite(target_duration_s) || target_duration_s < 0 || target_duration_s > 86400) {
    throw InvalidArgument("target_duration_s must be between 0 and 86400 seconds");
  }
  // O_EXCL: evidence is never overwritten.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw kuzet::Error("cannot create the recording '" + path_ + "': " + std::strerror(errno));
  std::string left_out;
  try {
    open_recording(video, streams, target_duration_s, &left_out);  // the header waits in the pipe
  } catch (...) {
    finished_ = true;
    close_output();
    ::unlink(path_.c_str());  // created by us (O_EXCL) and holding nothing: no stray "recording"
    throw;
  }
  segmenter_ = std::thread([this, target_duration_s] { segment_thread(target_duration_s); });
  if (!left_out.empty() && events_.error) {
    events_.error("recording '" + path_ + "': " + left_out);
  }
}

LiveRecorder::~LiveRecorder() { finish(); }

void LiveRecorder::open_recording(const AVStream& video, const std::vector<const AVStream*>& streams,
                                  double target_duration_s, std::string* left_out) {
  if (!mpegts_carries(video.codecpar->codec_id)) {
    // FFmpeg would mux it as opaque private data, which nothing (the segmenter included) reads back as video.
    throw kuzet::Error("recording '" + path_ + "': MPEG-TS cannot carry " +
                       avcodec_get_name(video.codecpar->codec_id) + " video; this connection is not recorded");
  }
  std::vector<const AVStream*> recorded{&video};
  std::vector<std::string> unrecorded;
  for (const AVStream* st : streams) {
    if (!st || st->index == video.index) continue;
    const std::string why = why_not_recorded(*st);
    if (why.empty()) {
      recorded.push_back(st);
    } else {
      unrecorded.push_back(describe(*st) + " left out: " + why);
    }
  }
  std::string refused;
  if (!open_muxer(recorded, &refused)) {
    if (recorded.size() == 1) throw kuzet::Error("recording '" + path_ + "': " + refused);
    // Perhaps an audio stream's setup is what the muxer refused (e.g. AAC whose extradata ADTS cannot
    // express): the video is recorded alone then, and the audio reported as left out.
    for (std::size_t i = 1; i < recorded.size(); ++i) {
      unrecorded.push_back(describe(*recorded[i]) + " left out: the MPEG-TS muxer refused it (" + refused + ")");
    }
    recorded.resize(1);
    if (!open_muxer(recorded, &refused)) throw kuzet::Error("recording '" + path_ + "': " + refused);
  }
  for (std::size_t i = 0; i < unrecorded.size(); ++i) *left_out += (i ? "; " : "") + unrecorded[i];

  in_tb_num_ = video.time_base.num;
  in_tb_den_ = video.time_base.den;
  const AVRational rate = video.avg_frame_rate.num > 0 ? video.avg_frame_rate : video.r_frame_rate;
  if (rate.num > 0 && rate.den > 0) {
    frame_step_ = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(rate), video.time_base));
  }
  int max_index = 0;
  for (const AVStream* st : streams) max_index = std::max(max_index, st ? st->index + 1 : 0);
  track_of_.assign(static_cast<std::size_t>(std::max(max_index, video.index + 1)), -1);
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    Track t;
    t.input_index = recorded[i]->index;
    t.in_tb_num = recorded[i]->time_base.num;
    t.in_tb_den = recorded[i]->time_base.den;
    t.video = i == 0;
    t.name = describe(*recorded[i]);
    track_of_[static_cast<std::size_t>(t.input_index)] = static_cast<int>(i);
    tracks_.push_back(std::move(t));
  }
  // MPEG-TS: 1/90000 for every stream. The segmenter rule in it, as the segmenter will see it.
  const AVRational out_tb = muxer_->streams[0]->time_base;
  out_tb_num_ = out_tb.num;
  out_tb_den_ = out_tb.den;
  target_ticks_ = static_cast<std::int64_t>(std::llround(target_duration_s * out_tb.den / out_tb.num));
  lead_ = recorded.size() > 1 ? static_cast<std::int64_t>(std::llround(kAudioLeadS * out_tb.den / out_tb.num)) : 0;
  latest_dts_ = lead_;
}

bool LiveRecorder::open_muxer(const std::vector<const AVStream*>& recorded, std::string* why) {
  if (avformat_alloc_output_context2(&muxer_, nullptr, "mpegts", nullptr) < 0 || !muxer_) {
    throw kuzet::Error("recording '" + path_ + "': cannot allocate the MPEG-TS muxer");
  }
  for (const AVStream* in : recorded) {
    AVStream* st = avformat_new_stream(muxer_, nullptr);
    if (!st || avcodec_parameters_copy(st->codecpar, in->codecpar) < 0) {
      throw kuzet::Error("recording '" + path_ + "': cannot set up its " + describe(*in));
    }
    st->codecpar->codec_tag = 0;  // the input container's tag means nothing in MPEG-TS
    st->time_base = in->time_base;
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
  if (rc < 0 && !failed_) {  // e.g. a codec setup MPEG-TS cannot carry: start again from an empty file
    *why = "cannot start MPEG-TS (" + av_error(rc) + ")";
    close_muxer();
    uncommitted_.clear();
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
      throw kuzet::Error("recording '" + path_ + "': cannot empty it again: " + std::strerror(errno));
    }
    return false;
  }
  if (rc < 0 || !commit()) throw kuzet::Error("recording '" + path_ + "': cannot write its header");
  return true;
}

std::vector<int> LiveRecorder::extra_streams() const {
  std::vector<int> out;
  for (const Track& t : tracks_) {
    if (!t.video) out.push_back(t.input_index);
  }
  return out;
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

namespace {

// Tells a resent packet (the same bytes as one recorded) from another with the same timestamp.
std::size_t packet_digest(const AVPacket& p) {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(p.data),
                                                        p.data ? static_cast<std::size_t>(p.size) : 0));
}

}  // namespace

void LiveRecorder::predict(bool key, std::int64_t muxed_ts, std::int64_t decoder_ts, std::size_t digest) {
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
    remember(decoder_ts, RecentPacket{segment_, digest});
  }
}

void LiveRecorder::remember(std::int64_t decoder_pts, RecentPacket packet) {
  recent_pts_[decoder_pts] = packet;
  if (recent_pts_.size() > kRecentFrames) recent_pts_.erase(recent_pts_.begin());
}

void LiveRecorder::packet(const AVPacket& in) {
  if (failed_ || finished_) return;
  const bool known = in.stream_index >= 0 && static_cast<std::size_t>(in.stream_index) < track_of_.size();
  const int track = known ? track_of_[static_cast<std::size_t>(in.stream_index)] : -1;
  if (track < 0) {  // not recorded: reported when the connection started, or now for a stream new since then
    if (!known && late_streams_.insert(in.stream_index).second && events_.error) {
      events_.error("recording '" + path_ + "': stream " + std::to_string(in.stream_index) +
                    " left out: it appeared after the connection started");
    }
    return;
  }
  AVPacket* copy = av_packet_clone(&in);
  if (!copy) {
    fail("recording '" + path_ + "': out of memory");
    return;
  }
  if (rtcp_) {
    synchronise(tracks_[static_cast<std::size_t>(track)], copy);
  } else {
    accept(copy);
  }
}

void LiveRecorder::accept(AVPacket* copy) {
  if (failed_) {
    av_packet_free(&copy);
    return;
  }
  if (have_origin_) {
    write_packet(copy);
    return;
  }
  // MPEG-TS must start from a decode timestamp. RTSP hands out its first packets untimed until the
  // stream's clock is known: hold them (audio too) until a video packet carries a dts, then date the video
  // back from it.
  held_.push_back(copy);
  const int track = track_of_[static_cast<std::size_t>(copy->stream_index)];
  const bool timed_video = tracks_[static_cast<std::size_t>(track)].video && copy->dts != AV_NOPTS_VALUE;
  if (!timed_video && held_.size() < kMaxHeldPackets) return;
  release_held();
}

void LiveRecorder::note_timing(Track& track, const AVPacket& p) {
  const std::int64_t ts = p.dts != AV_NOPTS_VALUE ? p.dts : p.pts;
  if (ts == AV_NOPTS_VALUE) return;
  // On its own clock, the stream's next packet follows this one: by this one's duration, else by the last step.
  const std::int64_t step = p.duration > 0 ? p.duration : track.last_ts != hash::kNoTimestamp ? ts - track.last_ts : 0;
  track.last_ts = ts;
  track.next_ts = ts + step;
}

bool LiveRecorder::observe_report(Track& track, const AVPacket& p) {
  if (track.reported && track.jump_window == 0) return false;
  const std::int64_t ts = p.dts != AV_NOPTS_VALUE ? p.dts : p.pts;
  if (!track.reported) {
    // rtpdec attaches the sender's clock (PRFT) to the packets it dates by a sender report, and to no other.
    if (!av_packet_get_side_data(&p, AV_PKT_DATA_PRFT, nullptr)) {
      note_timing(track, p);
      return true;
    }
    track.reported = true;
    track.reported_late = !audio_waits_;
    if (track.next_ts == hash::kNoTimestamp || ts == AV_NOPTS_VALUE) return false;  // reported from the start
    if (!track.video) {
      // Audio: each packet is dated by its own RTP timestamp, and its frames follow each other without gaps.
      track.jump = ts - track.next_ts;
      report_late_jump(track);
      return false;
    }
    track.jump_window = kVideoJumpWindow;  // looked for below, from this packet on
  }
  // Video: the parser hands out the packet carrying the report's clock (and a frame or two after it) still
  // dated by the RTP clock, and the dts follow a reordering delay after the pts. A jump shows as the first
  // decode step off the frame grid in the window: none when the video was the first stream reported.
  if (ts != AV_NOPTS_VALUE && track.next_ts != hash::kNoTimestamp) {
    const std::int64_t deviation = ts - track.next_ts;
    const std::int64_t step = std::max<std::int64_t>(1, track.next_ts - track.last_ts);
    if (2 * (deviation < 0 ? -deviation : deviation) > step) {
      track.jump_window = 0;
      report_video_jump(track, deviation);
      return true;  // kept as FFmpeg dates it
    }
  }
  note_timing(track, p);
  --track.jump_window;
  return true;
}

void LiveRecorder::report_late_jump(const Track& track) {
  if (!track.reported_late || track.jump == 0 || !events_.error) return;
  events_.error("recording '" + path_ + "': the first RTCP sender report of its " + track.name +
                " came after it stopped waiting for it; that stream is kept continuous, so its timing against "
                "the video stays " + milliseconds(seconds(-track.jump, track.in_tb_num, track.in_tb_den)) +
                " off, as it was before the report");
}

void LiveRecorder::report_video_jump(const Track& track, std::int64_t deviation) {
  if (!events_.error) return;
  const std::string what = "recording '" + path_ + "': its " + track.name;
  if (deviation > 0) {
    const std::string by = milliseconds(seconds(deviation, track.in_tb_num, track.in_tb_den));
    events_.error(what + " stepped " + by + " forward at its first RTCP sender report, as FFmpeg re-times a "
                  "stream reported after another: if so (not a pause of the camera), the video before that is " +
                  by + " early against the audio in the recording");
  } else {
    // FFmpeg's dts come back down over several packets (its reordering guess), so the step is not measured.
    events_.error(what + " went back at its first RTCP sender report, as FFmpeg re-times a stream reported "
                  "after another: the video before that is late against the audio by the step, and its packets "
                  "now dated before ones already recorded are left out (counted below)");
  }
}

void LiveRecorder::synchronise(Track& track, AVPacket* p) {
  const bool before_report = observe_report(track, *p);
  if (track.video) {  // neither waits (its frames name their segments as they are decoded) nor is re-dated
    accept(p);
    return;
  }
  sync_held_.emplace_back(p, before_report);
  if (!audio_waits_) {
    release_synchronised("");
    return;
  }
  const bool all_reported =
      std::all_of(tracks_.begin(), tracks_.end(), [](const Track& t) { return t.video || t.reported; });
  if (!all_reported) {
    const std::int64_t ts = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
    if (ts == AV_NOPTS_VALUE) {
      if (sync_held_.size() < kMaxSyncHeld) return;
    } else {
      const double at = seconds(ts, track.in_tb_num, track.in_tb_den);
      if (!sync_waiting_timed_) {
        sync_waiting_timed_ = true;
        sync_wait_from_s_ = at;
      }
      if (at - sync_wait_from_s_ < kSyncWaitS && sync_held_.size() < kMaxSyncHeld) return;
    }
  }
  release_synchronised(all_reported ? "" : "within " + std::to_string(std::lround(kSyncWaitS)) + " s of audio");
}

void LiveRecorder::release_synchronised(const std::string& gave_up) {
  if (audio_waits_) {
    audio_waits_ = false;
    std::string unreported;
    for (const Track& t : tracks_) {
      if (!t.video && !t.reported) unreported += (unreported.empty() ? "" : ", ") + t.name;
    }
    if (!gave_up.empty() && events_.error) {
      events_.error("recording '" + path_ + "': no RTCP sender report timed its " + unreported + " " + gave_up +
                    "; its audio is placed against the video by the streams' RTP clocks and the camera's RTP-Info "
                    "alone");
    }
  }
  while (!sync_held_.empty()) {
    auto [p, before_report] = sync_held_.front();
    sync_held_.pop_front();
    redate(p, before_report);
    accept(p);
  }
}

void LiveRecorder::redate(AVPacket* p, bool before_report) {
  const Track& track = tracks_[static_cast<std::size_t>(track_of_[static_cast<std::size_t>(p->stream_index)])];
  // The recording's timeline is FFmpeg's once each stream is reported (the sender's clock, shared by the
  // streams). Audio dated before its report is moved onto it by its own jump; one whose report came too late
  // to wait for is kept continuous instead (its later packets moved back by the jump).
  std::int64_t shift = 0;
  if (before_report) {
    shift = track.reported && !track.reported_late ? track.jump : 0;
  } else if (track.reported_late) {
    shift = -track.jump;
  }
  if (shift == 0) return;
  if (p->pts != AV_NOPTS_VALUE) p->pts += shift;
  if (p->dts != AV_NOPTS_VALUE) p->dts += shift;
}

void LiveRecorder::release_held() {
  const int video_index = tracks_.front().input_index;
  std::vector<AVPacket*> video;
  for (AVPacket* p : held_) {
    if (p->stream_index == video_index) video.push_back(p);
  }
  std::size_t known = 0;
  while (known < video.size() && video[known]->dts == AV_NOPTS_VALUE) ++known;
  const std::int64_t anchor = known < video.size() ? video[known]->dts : static_cast<std::int64_t>(known) * frame_step_;
  for (std::size_t i = 0; i < known; ++i) {
    video[i]->dts = anchor - static_cast<std::int64_t>(known - i) * frame_step_;
  }
  // The recording's origin: its first video packet lands on lead_ (without one, the first timed packet).
  std::int64_t first = 0;
  if (!video.empty()) {
    first = av_rescale_q(video.front()->dts, AVRational{in_tb_num_, in_tb_den_}, AVRational{out_tb_num_, out_tb_den_});
  } else {
    for (const AVPacket* p : held_) {
      if (p->dts == AV_NOPTS_VALUE) continue;
      const Track& t = tracks_[static_cast<std::size_t>(track_of_[static_cast<std::size_t>(p->stream_index)])];
      first = av_rescale_q(p->dts, AVRational{t.in_tb_num, t.in_tb_den}, AVRational{out_tb_num_, out_tb_den_});
      break;
    }
  }
  origin_ = first - lead_;
  have_origin_ = true;
  while (!held_.empty()) {
    AVPacket* p = held_.front();
    held_.pop_front();
    write_packet(p);
  }
}

void LiveRecorder::leave_out(LeftOut why, const Track& track) {
  static const char* const kWhy[kLeftOutKinds] = {
      "whose decode timestamp does not increase (resent or reordered in transit, or the camera's clock went "
      "back: then every packet until its timestamps pass the last recorded one; frames decoded from them name no "
      "segment)",
      "dated more than 10 s before the recording's first video packet",
      "whose presentation timestamp precedes its decode timestamp",
      "that the MPEG-TS muxer refused (that stream is left out from then on)",
  };
  // The first one at once, the total when the connection ends.
  if (++left_out_[why] == 1 && events_.error) {
    events_.error("recording '" + path_ + "': a packet of its " + track.name + " " + kWhy[why] +
                  " was left out of the recording");
  }
}

void LiveRecorder::write_packet(AVPacket* p) {
  if (segmenter_stopped_.load() && !failed_) {
    failed_ = true;  // the file would grow unhashed; the segmenter already said why
    commit();
  }
  if (failed_) {
    av_packet_free(&p);
    return;
  }
  Track& track = tracks_[static_cast<std::size_t>(track_of_[static_cast<std::size_t>(p->stream_index)])];
  if (track.refused) {
    av_packet_free(&p);
    return;
  }
  const AVRational in_tb{track.in_tb_num, track.in_tb_den};
  const AVRational out_tb{out_tb_num_, out_tb_den_};
  auto muxed = [&](std::int64_t ts) {
    return ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(ts, in_tb, out_tb) - origin_;
  };
  const std::int64_t decoder_pts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;  // video: its frame's pts
  std::int64_t dts = muxed(p->dts);
  std::int64_t pts = muxed(p->pts);
  // Missing timestamps are filled (recorded and signed as filled): dts just after the stream's previous one
  // (an untimed first audio packet: at the latest time recorded), pts = dts.
  std::optional<LeftOut> why;
  if (dts == AV_NOPTS_VALUE) {
    dts = track.last_dts != hash::kNoTimestamp ? track.last_dts + 1 : latest_dts_;
  } else if (track.last_dts != hash::kNoTimestamp && dts <= track.last_dts) {
    // Resent or reordered in transit: MPEG-TS (like every muxer) needs increasing decode timestamps per
    // stream, and one such packet must not end the recording. It is left out (a video one's frame then
    // names no segment) and reported.
    why = kNotIncreasing;
  } else if (dts < 0) {
    why = kBeforeStart;  // audio sent long before the video: no timestamp of the recording is left for it
  }
  if (pts == AV_NOPTS_VALUE) pts = dts;
  if (!why && pts < dts) why = kPtsBeforeDts;  // no muxer takes it
  if (why) {
    if (track.video && decoder_pts != AV_NOPTS_VALUE) note_left_out(decoder_pts, packet_digest(*p));
    av_packet_free(&p);
    leave_out(*why, track);
    return;
  }
  track.last_dts = dts;
  latest_dts_ = std::max(latest_dts_, dts);
  p->dts = dts;
  p->pts = pts;
  p->duration = p->duration > 0 ? av_rescale_q(p->duration, in_tb, out_tb) : 0;
  p->stream_index = static_cast<int>(&track - tracks_.data());
  p->pos = -1;
  if (track.video) predict((p->flags & AV_PKT_FLAG_KEY) != 0, pts, decoder_pts, packet_digest(*p));
  int rc = av_write_frame(muxer_, p);
  // The muxer gathers audio into larger PES packets until later packets come: write it out now, so that
  // each commit holds every packet handed over so far, whole.
  if (rc >= 0 && !track.video) rc = av_write_frame(muxer_, nullptr);
  av_packet_free(&p);
  if (rc < 0) {
    if (track.video || failed_ || io_->error < 0) {
      fail("recording '" + path_ + "': cannot write a packet (" + av_error(rc) + ")");
    } else {  // e.g. raw AAC without the extradata to frame it: the video goes on being recorded
      track.refused = true;
      leave_out(kRefused, track);
    }
  }
  commit();  // the segmenter sees the packet now (or, on failure, the file is cut back)
}

void LiveRecorder::note_left_out(std::int64_t decoder_pts, std::size_t digest) {
  // A packet resent in transit holds the bytes of the recorded packet with its timestamp: its frame is that
  // one's, in that segment. Any other left-out packet's frame names no segment - in particular after a
  // camera's clock went back (its encoder restarted on the same connection), when new pictures repeat the
  // timestamps of recorded ones and would otherwise be bound to the segments of those older pictures.
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = recent_pts_.find(decoder_pts);
  if (it != recent_pts_.end() && it->second.digest == digest) return;
  remember(decoder_pts, RecentPacket{-1, digest});
}

std::int64_t LiveRecorder::segment_of(std::int64_t pts) const {
  if (failed_ || segmenter_stopped_.load()) return -1;  // what follows is not in the (signed) recording
  std::lock_guard<std::mutex> lock(mutex_);
  if (recent_pts_.empty()) return -1;
  auto it = recent_pts_.find(pts);
  if (it != recent_pts_.end()) return it->second.segment;  // -1 for a left-out packet's frame
  // A frame without its own packet pts: the segment of the packets shown on both sides of it, when they agree
  // (at a segment boundary, or beside a left-out packet, it is not known: no segment rather than a guess).
  it = recent_pts_.upper_bound(pts);
  if (it == recent_pts_.begin()) return -1;
  const std::int64_t before = std::prev(it)->second.segment;
  return it == recent_pts_.end() || it->second.segment == before ? before : -1;
}

void LiveRecorder::segment_thread(double target_duration_s) {
  hash::SegmenterOptions options;
  options.target_duration_s = target_duration_s;
  options.input_format = "mpegts";
  std::string sync_error;
  auto on_segment = [this, &sync_error](const hash::SegmentRecord& r) {
    // The recording must hold the segment before a manifest claims it: if the disk says it may not, the
    // segment is not signed and segmenting stops (below).
    if (fd_ >= 0 && ::fdatasync(fd_) != 0) {
      sync_error = "the disk did not confirm writing segment " + std::to_string(r.index) + " (" +
                   std::strerror(errno) + "); it is not signed and nothing more is recorded";
      return false;
    }
    ClosedSegment closed;
    closed.record = r;
    closed.time_base_num = in_tb_num_;
    closed.time_base_den = in_tb_den_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = coverage_.find(static_cast<std::int64_t>(r.index));
      // Segments are cut at video packets only: the frames' prediction holds if the video packets match.
      closed.prediction_confirmed = it != coverage_.end() && it->second.packets == segment_video_packets_;
      segment_video_packets_ = 0;
      if (it != coverage_.end()) {
        closed.first_pts = it->second.first_pts;
        closed.last_pts = it->second.last_pts;
        coverage_.erase(it);
      }
    }
    if (events_.segment) events_.segment(closed);
    return true;
  };
  options.on_packet = [this](bool is_video) {
    if (is_video) ++segment_video_packets_;
  };
  std::string error;
  try {
    const hash::SegmentationResult result =
        hash::segment_stream([this](std::uint8_t* b, int n) { return pipe_.read(b, n); }, path_, options, on_segment);
    error = result.error;
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!sync_error.empty()) error = sync_error;
  if (!error.empty()) {
    // Nothing more can be hashed: the decoding thread stops recording, and frames name no segment from now on.
    segmenter_stopped_.store(true);
    if (events_.error) events_.error("segmenting the recording '" + path_ + "': " + error);
  }
  // Whatever stopped the segmenter, the writer must never block on a full pipe.
  std::uint8_t sink[4096];
  while (pipe_.read(sink, sizeof sink) > 0) {
  }
}

void LiveRecorder::finish() {
  if (finished_) return;
  finished_ = true;
  if (muxer_ && !failed_ && audio_waits_ && !sync_held_.empty()) {
    release_synchronised("before the connection ended");
  }
  if (muxer_ && !failed_ && !held_.empty()) release_held();  // a stream that never gave a timestamp
  if (muxer_ && !failed_) {
    const int rc = av_write_trailer(muxer_);
    if (rc < 0) fail("recording '" + path_ + "': cannot finish the MPEG-TS file (" + av_error(rc) + ")");
    commit();
  }
  static const char* const kTotal[kLeftOutKinds] = {
      "packets whose decode timestamp did not increase",
      "packets dated more than 10 s before its first video packet",
      "packets whose presentation timestamp preceded their decode timestamp",
      "packets the MPEG-TS muxer refused",
  };
  for (int why = 0; why < kLeftOutKinds; ++why) {
    if (left_out_[why] > 1 && events_.error)
      events_.error("recording '" + path_ + "': " + std::to_string(left_out_[why]) + " " + kTotal[why] +
                    " were left out of the recording");
  }
  pipe_.close();  // the segmenter seals the segment in progress: what was received, up to the end
  if (segmenter_.joinable()) segmenter_.join();
  close_output();
}

void LiveRecorder::close_muxer() {
  if (muxer_) {
    avformat_free_context(muxer_);  // custom I/O: io_ is ours to free
    muxer_ = nullptr;
  }
  if (io_) {
    av_freep(&io_->buffer);
    avio_context_free(&io_);
  }
}

void LiveRecorder::close_output() {
  close_muxer();
  for (AVPacket*& p : held_) av_packet_free(&p);
  held_.clear();
  for (auto& [p, before_report] : sync_held_) av_packet_free(&p);
  sync_held_.clear();
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace kuzet::record
