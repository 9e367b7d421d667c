// The decoder core: demuxes the best video stream, decodes it in presentation order, keeps frame
// indices consistent with sequential decoding, and seeks exactly (to the key frame before the target,
// then forward). Device specifics (codec setup, output conversion) live behind DeviceInterface.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "decode/device_interface.hpp"
#include "decode/metadata.hpp"
#include "decode/source.hpp"

namespace kuzet::decode {

struct DecoderOptions {
  std::string device = "cpu";
  int threads = 0;           // 0: one per core
  bool skip_errors = false;  // errors="skip": drop corrupt frames (counted) instead of raising
  // device "cuda[:N]": decode on the CPU where NVDEC cannot (fallback_reason says why), as "auto" does on GPU 0,
  // instead of raising DeviceUnavailable. For readers that deliver frames on that GPU all the same.
  bool nvdec_fallback = false;
};

struct DecodeStats {
  int64_t decoded = 0;     // frames handed out
  int64_t corrupt = 0;     // corrupt packets/frames seen
  int64_t skipped = 0;     // corrupt frames dropped under errors="skip"
  int64_t dropped = 0;     // frames a live buffer discarded (drop_oldest)
  int64_t reconnects = 0;  // live reconnections
  int64_t sampled_out = 0; // frames decoded but not handed out by a sampling reader (frame_sampler.hpp)
};

struct DecodedFrame {
  const AVFrame* frame = nullptr;  // valid until the next call into the decoder
  int64_t pts_raw = 0;             // time-base units
  double pts = 0;                  // seconds
  int64_t index = 0;               // position in the decoded stream
  bool key_frame = false;
};

class Decoder {
 public:
  Decoder(SourceSpec spec, DecoderOptions options);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  const StreamMetadata& metadata() const { return metadata_; }
  const std::string& name() const { return spec_name_; }
  const DecoderOptions& options() const { return options_; }
  DeviceInterface& device() { return *device_; }
  // With device "auto" (or nvdec_fallback): why decoding runs on the CPU rather than NVDEC ("" when it does not).
  const std::string& fallback_reason() const { return fallback_reason_; }
  DecodeStats& stats() { return stats_; }
  // Makes blocking reads give up, from any thread (close() while another thread reads).
  void cancel() { cancel_->store(true); }
  // The flag cancel() sets, for callers that must cancel without touching the decoder (another thread).
  std::shared_ptr<std::atomic<bool>> cancel_flag() const { return cancel_; }

  // Sees every packet of the decoded stream, and of the `extra_streams` (indices into streams(), e.g. the
  // audio a live recording keeps), as it is demuxed, in demux order, before decoding. Only the video is
  // decoded: the extra streams are demuxed for the tap alone. Packets of streams that appear later (a
  // live source's new program table) reach the tap too, so it can tell it does not take them.
  void set_packet_tap(std::function<void(const AVPacket&)> tap, const std::vector<int>& extra_streams = {});
  const AVStream& video_stream() const { return *stream_; }
  // Whether the streams are RTP sessions tied together by RTCP sender reports (RTSP, SDP, RTP with more than
  // one stream): FFmpeg dates each stream by its own RTP clock until that stream's first sender report, then
  // by the sender's clock (its packets carry AV_PKT_DATA_PRFT from then on), so its timestamps jump there.
  bool rtcp_synchronised() const;
  // Every stream of the source, by index (the video stream included).
  std::vector<const AVStream*> streams() const;

  // The next frame in presentation order; false at the end of the stream.
  bool next(DecodedFrame& out);
  // Presentation timestamps of every frame of the decoded stream (built on first use).
  const std::vector<int64_t>& frame_pts();
  // Makes the next call to next() return frame `index` (exact).
  void seek_to_index(int64_t index);

 private:
  void open_codec();
  void open_codec_context(const AVCodec* codec);  // codec_ for `codec`, with the stream's parameters
  bool is_tapped(int stream_index) const;  // a stream other than the video that packet_tap_ takes
  void check_not_encrypted(const AVPacket* pkt) const;
  // Reads and sends one packet of the video stream; at the end of input, starts draining.
  void feed_packet();
  bool receive(DecodedFrame& out);  // one decode step; false when the decoder needs input or ended
  bool next_position(DecodedFrame& out);  // the next frame output, damaged or not, with its index
  void restart();  // reopen the source: exactly the initial state
  void check_usable() const;
  void check_not_empty();
  void build_index_from_packets();
  bool packets_match_first_frames();  // the packet index against the first decoded frames
  void build_index_by_decoding();
  bool try_seek_to_index(int64_t index);
  void hold_fetched(DecodedFrame f, int64_t index);  // frame `index`, fetched by position, for the next read
  [[noreturn]] void throw_read_error(int ret) const;

  std::unique_ptr<Source> source_;
  std::unique_ptr<DeviceInterface> device_;
  DecoderOptions options_;
  AVStream* stream_ = nullptr;
  AVCodecContext* codec_ = nullptr;
  AVPacket* packet_ = nullptr;
  AVFrame* frame_ = nullptr;
  StreamMetadata metadata_;
  DecodeStats stats_;
  std::string fallback_reason_;

  bool draining_ = false;
  bool finished_ = false;
  bool empty_reported_ = false;
  bool broken_ = false;  // a restart failed: no source or codec
  std::string spec_name_;
  std::shared_ptr<std::atomic<bool>> cancel_;  // shared with every Source this decoder opens
  std::exception_ptr deferred_error_;  // a read error, raised once the decoder is drained
  bool pending_ = false;  // frame_ holds a frame already positioned by a seek
  DecodedFrame pending_info_;
  int64_t next_index_ = 0;
  int64_t last_pts_ = AV_NOPTS_VALUE;
  std::function<void(const AVPacket&)> packet_tap_;
  std::vector<bool> tapped_;  // by stream index: demuxed for packet_tap_ although not decoded

  bool index_built_ = false;
  bool index_from_packets_ = false;  // seekable by key frame; else seeking rewinds and decodes forward
  std::vector<int64_t> pts_index_;   // pts of frame i
  std::vector<int64_t> key_indices_; // sorted indices of key frames
  std::vector<int64_t> key_seek_ts_; // per key frame: the timestamp a backward seek to it uses
  // Frames decoded to check a packet index against: more than a GOP of leading frames that a cut file loses.
  static constexpr size_t kIndexCheckFrames = 64;
};

}  // namespace kuzet::decode
