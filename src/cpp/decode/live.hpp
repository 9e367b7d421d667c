// Live reading: a native thread decodes and converts frames into a bounded queue while the caller
// consumes them (host frames, or GPU frames: LiveOptions::gpu_frames). When a network source stalls
// (StreamTimeout), fails or ends, it reconnects with bounded retries and exponential backoff. A full queue
// either drops its oldest frame (counted) or blocks.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/device_array.hpp"
#include "decode/decoder.hpp"
#include "decode/frame_buffer.hpp"
#include "decode/frame_sampler.hpp"

namespace kuzet::decode {

enum class BufferPolicy { DropOldest, Block };

// Sees what one connection demuxes, e.g. to record it as evidence (record/live_recorder.hpp). One per
// connection: a reconnection gets a new one.
class ConnectionTap {
 public:
  virtual ~ConnectionTap() = default;
  // The connection's other streams (indices, e.g. its audio) whose packets it takes besides the video's.
  virtual std::vector<int> extra_streams() const { return {}; }
  // Called before any packet when the connection's streams are timed by RTCP sender reports as they arrive
  // (Decoder::rtcp_synchronised): each stream's timestamps jump once, at its first report.
  virtual void rtcp_synchronised() {}
  // Every packet of the decoded stream and of extra_streams() (and of streams that appeared after the tap
  // was made), in demux order, before the video is decoded (decoding thread).
  virtual void packet(const AVPacket& pkt) = 0;
  // The evidence segment holding the packet with this pts (decoder time base); -1 when unknown.
  virtual int64_t segment_of(int64_t pts) const = 0;
  // The connection ended (normally, by an error or by stop()): seal what was received.
  virtual void finish() = 0;
};
// Makes the tap of connection `connection` (0, 1, ...) once it is open; nullptr: do not tap it. `streams`:
// every stream the connection's demuxer found, by index (`video`, the decoded one, among them).
// Must not throw: a recording that cannot start never stops the analysis.
using TapFactory = std::function<std::unique_ptr<ConnectionTap>(
    const AVStream& video, const std::vector<const AVStream*>& streams, int connection)>;

struct LiveOptions {
  size_t capacity = 8;
  BufferPolicy policy = BufferPolicy::DropOldest;
  int max_reconnects = 0;         // consecutive failed attempts allowed per outage
  double backoff_initial_s = 0.5;  // doubled after each failed attempt
  double backoff_max_s = 8.0;
  TapFactory tap;  // empty: no tap
  FrameSampling sampling;  // frames left out are neither converted nor queued (counted in sampled_out)
  // Frames delivered in GPU memory (LiveFrame::gpu; decode/gpu_frames.hpp) on the device the DecoderOptions
  // name ("cuda[:N]"): NVDEC's frames never leave it. Else converted into host memory (LiveFrame::data).
  bool gpu_frames = false;
};

struct LiveFrame {
  FrameBuffer data;                 // host frame (LiveOptions::gpu_frames off)
  std::shared_ptr<DeviceArray> gpu;  // GPU frame (gpu_frames on), complete when queued
  FrameGeometry geometry;
  int64_t pts_raw = 0;
  double pts = 0;
  int64_t index = 0;
  bool key_frame = false;
  int connection = 0;    // 0 for the first connection, +1 per reconnection
  int64_t segment = -1;  // the tap's evidence segment for this frame (-1: none)
};

class LiveDecoder {
 public:
  LiveDecoder(SourceSpec spec, DecoderOptions options, Layout layout, LiveOptions live);
  ~LiveDecoder();
  LiveDecoder(const LiveDecoder&) = delete;
  LiveDecoder& operator=(const LiveDecoder&) = delete;

  const StreamMetadata& metadata() const { return metadata_; }
  const std::string& device_name() const { return device_name_; }
  const std::string& name() const { return spec_.name; }
  const std::string& fallback_reason() const { return fallback_reason_; }  // see Decoder::fallback_reason
  // The next frame; false once the stream ended and the queue is empty. Rethrows the error that ended
  // the stream (after the frames decoded before it).
  bool pop(LiveFrame& out);
  DecodeStats stats();
  void stop();

 private:
  void run();
  // Decodes from `decoder` until it ends or fails; returns normally at the end of the stream.
  void pump(Decoder& decoder);
  void push(LiveFrame frame);
  // Up to `attempts` opens (network sources only; a file is opened once), with backoff between them.
  std::unique_ptr<Decoder> open_with_retries(int attempts, std::exception_ptr* last_error);
  bool sleep_unless_stopped(double seconds);
  void attach_tap(Decoder& decoder);  // a new connection's tap (LiveOptions::tap)
  void finish_tap();

  SourceSpec spec_;
  DecoderOptions options_;
  Layout layout_;
  LiveOptions live_;
  StreamMetadata metadata_;
  std::string device_name_;
  std::string fallback_reason_;
  std::unique_ptr<Decoder> first_;  // opened in the constructor, handed to the thread

  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<LiveFrame> queue_;
  bool stopping_ = false;
  bool ended_ = false;
  std::exception_ptr error_;
  DecodeStats stats_;       // totals over every connection
  DecodeStats connection_;  // the current connection's decoder stats, folded into stats_ when it ends
  int64_t next_index_ = 0;
  FrameSampler sampler_;  // used by the decoding thread only
  int connection_number_ = 0;
  std::unique_ptr<ConnectionTap> tap_;  // the current connection's; used by the decoding thread only
  std::thread thread_;
};

}  // namespace kuzet::decode
