// Records one live connection as evidence while it is analysed: every packet the decoder demuxes is
// stream-copied into an MPEG-TS file (append-only, readable after a crash, demuxable without seeking)
// through a custom write callback that also feeds the very same bytes to the evidence segmenter, which
// demuxes them from memory in its own thread. The segment records therefore equal what `kuzet verify`
// recomputes from the file, by construction.
//
// Frame -> segment: the recorder predicts each packet's segment with the segmenter's own rule applied to
// the timestamps it hands the muxer (MPEG-TS shifts them by a constant only, which keeps differences), so a
// frame names its segment before that segment closes. Each closed segment confirms the prediction (same
// packet count); a mismatch is reported, never hidden.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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
  std::function<void(const std::string&)> error;      // what went wrong (the recording then stops growing)
};

class LiveRecorder final : public decode::ConnectionTap {
 public:
  // Creates `path` (never overwrites: throws kuzet::Error if it exists or cannot be created).
  LiveRecorder(std::string path, const AVStream& video, double target_duration_s, RecorderEvents events);
  ~LiveRecorder() override;
  LiveRecorder(const LiveRecorder&) = delete;
  LiveRecorder& operator=(const LiveRecorder&) = delete;

  void packet(const AVPacket& pkt) override;
  std::int64_t segment_of(std::int64_t pts) const override;
  void finish() override;

  const std::string& path() const { return path_; }
  // The muxer's write callback: into the file; commit() hands the bytes to the segmenter once a whole
  // packet (or the header/trailer) is written, so a failed write never leaves half a packet to hash.
  int write_bytes(const std::uint8_t* buf, int size);

 private:
  void open_muxer(const AVStream& video, double target_duration_s);
  bool commit();  // false (and the file cut back to the last commit) after a write failure
  void release_held();
  void write_packet(AVPacket* p);  // takes ownership
  void predict(bool key, std::int64_t muxed_ts, std::int64_t decoder_ts);
  void segment_thread(double target_duration_s);
  void fail(const std::string& why);  // reports once and stops recording
  void close_output();

  std::string path_;
  RecorderEvents events_;
  int fd_ = -1;
  off_t committed_ = 0;                    // file size up to the last whole packet
  std::vector<std::uint8_t> uncommitted_;  // written to the file, not yet to the segmenter
  AVFormatContext* muxer_ = nullptr;
  AVIOContext* io_ = nullptr;
  int in_tb_num_ = 0, in_tb_den_ = 1;
  std::int64_t frame_step_ = 1;  // one frame in the decoder's time base (dating untimed packets)
  std::int64_t offset_ = 0;      // first packet's dts: the recording starts at 0 (no 33-bit wrap for 26 h)
  std::int64_t last_dts_ = 0;
  std::uint64_t unordered_packets_ = 0;  // left out: decode timestamp not increasing
  bool have_offset_ = false;
  std::deque<AVPacket*> held_;  // untimed packets at the start, until one carries a dts
  bool failed_ = false;    // decoding thread only
  bool finished_ = false;  // decoding thread only
  BytePipe pipe_;
  std::thread segmenter_;

  // The prediction (segmenter rule on the muxed timestamps), shared with the segmenter thread.
  struct Coverage {
    std::int64_t first_pts = hash::kNoTimestamp, last_pts = hash::kNoTimestamp;  // decoder time base
    std::uint64_t packets = 0;
  };
  mutable std::mutex mutex_;
  std::int64_t target_ticks_ = 0;  // in the muxer's time base
  std::int64_t segment_ = 0;
  std::int64_t segment_start_ = hash::kNoTimestamp;
  std::map<std::int64_t, Coverage> coverage_;        // open (not yet closed) segments
  std::map<std::int64_t, std::int64_t> recent_pts_;  // decoder pts -> segment, bounded
};

}  // namespace kuzet::record
