// Records one live connection as evidence while it is analysed: every packet the decoder demuxes of its
// video stream and of the audio streams MPEG-TS carries (AAC, MP2/MP3, AC-3, E-AC-3, DTS, Opus) is
// stream-copied, in demux order, into an MPEG-TS file (append-only, readable after a crash, demuxable
// without seeking) through a custom write callback that also feeds the very same bytes to the evidence
// segmenter, which demuxes them from memory in its own thread. The segment records therefore equal what
// `kuzet verify` recomputes from the file, by construction. Streams it cannot carry (other audio codecs,
// data, subtitles, a second video) are left out and reported once, when the connection starts.
//
// Frame -> segment: the recorder predicts each video packet's segment with the segmenter's own rule applied
// to the timestamps it hands the muxer (MPEG-TS shifts them by a constant only, which keeps differences),
// so a frame names its segment before that segment closes. Segments are cut at video key packets only, so
// each closed segment confirms the prediction by its video packets (same count); audio packets fall into
// the segment the segmenter demuxes them in, which its hash then covers. A mismatch is reported, never hidden.
//
// RTSP (RTP streams tied together by RTCP sender reports): FFmpeg dates each stream by its own RTP clock until
// that stream's first sender report, then by the sender's clock, which the streams share; the timestamps of
// every stream but the first one reported jump there (audio went back ~80 ms on a test camera: overlapping
// packets, left out). The recording takes FFmpeg's timeline as it is once reported. Each audio stream waits
// (held, at most kSyncWaitS of audio) for its own first report; its packets dated before it are then moved
// onto that timeline by its jump, measured exactly (each packet is dated by its own RTP timestamp, and AAC
// frames follow each other without gaps). The video is never held (its frames name their segments as they
// are decoded) nor re-dated, but a step at its first report (FFmpeg re-timing a video reported after the
// audio: the frames before it are off against the audio; backwards, overlapping packets are left out) is
// reported. An audio stream reported too late, or never, is kept continuous, and reported.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "decode/live.hpp"
#include "hash/segment_record.hpp"
#include "record/byte_pipe.hpp"

struct AVFormatContext;
struct AVIOContext;
struct AVPacket;
struct AVStream;

namespace kuzet::record {

struct ClosedSegment {
  hash::SegmentRecord record;
  // The segment's smallest and largest video pts in the *decoder's* time base (kNoTimestamp: none), so
  // frames map onto it without going through the recording's timestamps.
  std::int64_t first_pts = hash::kNoTimestamp;
  std::int64_t last_pts = hash::kNoTimestamp;
  int time_base_num = 0, time_base_den = 1;  // the decoder's time base (first_pts, last_pts)
  bool prediction_confirmed = true;  // the frames named this segment before it closed are exactly its own
};

struct RecorderEvents {
  std::function<void(const ClosedSegment&)> segment;  // from the segmenter thread, in order
  // What went wrong: the recording stops growing, unless the message says what was "left out" of it (a
  // stream, or a packet it could not take) while it goes on.
  std::function<void(const std::string&)> error;
};

class LiveRecorder final : public decode::ConnectionTap {
 public:
  // Creates `path` (never overwrites: throws kuzet::Error if it exists or cannot be created). `streams`: every
  // stream of the connection, by index (`video` among them); the audio ones MPEG-TS carries are recorded too.
  LiveRecorder(std::string path, const AVStream& video, const std::vector<const AVStream*>& streams,
               double target_duration_s, RecorderEvents events);
  ~LiveRecorder() override;
  LiveRecorder(const LiveRecorder&) = delete;
  LiveRecorder& operator=(const LiveRecorder&) = delete;

  std::vector<int> extra_streams() const override;  // the recorded audio streams
  void rtcp_synchronised() override { rtcp_ = true; }
  void packet(const AVPacket& pkt) override;
  std::int64_t segment_of(std::int64_t pts) const override;
  void finish() override;

  const std::string& path() const { return path_; }
  // The muxer's write callback: into the file; commit() hands the bytes to the segmenter once a whole
  // packet (or the header/trailer) is written, so a failed write never leaves half a packet to hash.
  int write_bytes(const std::uint8_t* buf, int size);

 private:
  // One recorded stream.
  struct Track {
    int input_index = -1;  // in the connection's demuxer
    int in_tb_num = 0, in_tb_den = 1;
    bool video = false;
    std::string name;                          // e.g. "audio stream 1 (aac)", for reports
    std::int64_t last_dts = hash::kNoTimestamp;  // in the muxer's time base, as written
    bool refused = false;  // the muxer refused one of its packets: the stream is left out from then on
    // RTCP synchronisation (input time base). `jump`: how far FFmpeg moved its timestamps at its first
    // sender report (audio only); `next_ts`: before that report, where its next
    // packet would be dated on the RTP clock alone.
    bool reported = false;
    bool reported_late = false;  // after it stopped waiting: kept continuous, not re-dated
    std::int64_t jump = 0;
    std::int64_t next_ts = hash::kNoTimestamp;
    std::int64_t last_ts = hash::kNoTimestamp;
    int jump_window = 0;  // video: packets left in which to look for its jump (see observe_report)
  };
  // Why a packet is left out of the recording (each reported at its first occurrence and counted).
  enum LeftOut { kNotIncreasing, kBeforeStart, kPtsBeforeDts, kRefused, kLeftOutKinds };

  // Chooses the recorded streams (reported in *left_out when left out) and starts the muxer; without audio
  // when the muxer refuses the audio streams' setup.
  void open_recording(const AVStream& video, const std::vector<const AVStream*>& streams, double target_duration_s,
                      std::string* left_out);
  bool open_muxer(const std::vector<const AVStream*>& recorded, std::string* why);  // false: nothing started
  bool commit();  // false (and the file cut back to the last commit) after a write failure
  void release_held();
  void accept(AVPacket* p);  // into the recording, or held at the start until the video is timed
  // RTCP synchronisation: notes a packet's timing (true: dated by its stream's RTP clock alone), re-dates it.
  bool observe_report(Track& track, const AVPacket& p);
  void note_timing(Track& track, const AVPacket& p);
  void report_late_jump(const Track& track);
  void report_video_jump(const Track& track, std::int64_t deviation);
  void synchronise(Track& track, AVPacket* p);
  void redate(AVPacket* p, bool before_report);  // audio
  void release_synchronised(const std::string& gave_up);  // gave_up: why it waits no more ("": all reported)
  void write_packet(AVPacket* p);  // takes ownership
  void leave_out(LeftOut why, const Track& track);
  void note_left_out(std::int64_t decoder_pts, std::size_t digest);  // a video packet left out (see there)
  void predict(bool key, std::int64_t muxed_ts, std::int64_t decoder_ts, std::size_t digest);
  void segment_thread(double target_duration_s);
  void fail(const std::string& why);  // reports once and stops recording
  void close_muxer();
  void close_output();

  std::string path_;
  RecorderEvents events_;
  int fd_ = -1;
  off_t committed_ = 0;                    // file size up to the last whole packet
  std::vector<std::uint8_t> uncommitted_;  // written to the file, not yet to the segmenter
  AVFormatContext* muxer_ = nullptr;
  AVIOContext* io_ = nullptr;
  std::vector<Track> tracks_;    // by output stream index: the video first, then the recorded audio
  std::vector<int> track_of_;    // by input stream index: index into tracks_, -1 when not recorded
  std::set<int> late_streams_;   // streams that appeared after the connection started (reported, not recorded)
  int out_tb_num_ = 1, out_tb_den_ = 90000;  // the muxer's time base (every stream)
  int in_tb_num_ = 0, in_tb_den_ = 1;        // the decoder's (video) time base
  std::int64_t frame_step_ = 1;  // one frame in the decoder's time base (dating untimed packets)
  // Subtracted from every timestamp (muxer time base): the first video packet's dts lands on `lead_`, 0
  // without audio (no 33-bit wrap for 26 h), and audio sent up to `lead_` earlier than it still fits.
  std::int64_t origin_ = 0;
  std::int64_t lead_ = 0;
  std::int64_t latest_dts_ = 0;  // the largest dts written (any stream), dating an untimed first audio packet
  bool have_origin_ = false;
  std::uint64_t left_out_[kLeftOutKinds] = {};  // packets left out, by reason
  std::deque<AVPacket*> held_;  // untimed packets at the start, until a video packet carries a dts
  bool rtcp_ = false;            // the streams are timed by RTCP sender reports (see the top of this file)
  bool audio_waits_ = true;      // until every recorded audio stream is reported (or kSyncWaitS passed)
  double sync_wait_from_s_ = 0;          // the first held audio packet's time
  bool sync_waiting_timed_ = false;      // sync_wait_from_s_ is set
  std::deque<std::pair<AVPacket*, bool>> sync_held_;  // audio waiting for the reports; true: dated before its own
  bool failed_ = false;    // decoding thread only
  std::atomic<bool> segmenter_stopped_{false};  // the segmenter thread failed: nothing more can be signed
  bool finished_ = false;  // decoding thread only
  std::uint64_t segment_video_packets_ = 0;  // segmenter thread: video packets of the segment in progress
  BytePipe pipe_;
  std::thread segmenter_;

  // The prediction (segmenter rule on the muxed timestamps), shared with the segmenter thread.
  struct Coverage {
    std::int64_t first_pts = hash::kNoTimestamp, last_pts = hash::kNoTimestamp;  // decoder time base
    std::uint64_t packets = 0;  // video packets
  };
  mutable std::mutex mutex_;
  std::int64_t target_ticks_ = 0;  // in the muxer's time base
  std::int64_t segment_ = 0;
  std::int64_t segment_start_ = hash::kNoTimestamp;
  std::map<std::int64_t, Coverage> coverage_;        // open (not yet closed) segments
  struct RecentPacket {
    std::int64_t segment;  // -1: left out of the recording
    std::size_t digest;    // of its bytes
  };
  std::map<std::int64_t, RecentPacket> recent_pts_;  // video packets by decoder pts, bounded
  void remember(std::int64_t decoder_pts, RecentPacket packet);  // into recent_pts_; mutex_ held
};

}  // namespace kuzet::record
