// Opening an input: a path or URL, an in-memory buffer, or caller-supplied read/seek callbacks (custom
// AVIOContext). Every blocking FFmpeg call is bounded by a deadline through the interrupt callback, so a
// stalled network stream raises StreamTimeout instead of hanging.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

extern "C" {
#include <libavformat/avformat.h>
}

namespace kuzet::decode {

struct SourceSpec {
  enum class Kind { Url, Memory, Callbacks };
  Kind kind = Kind::Url;
  std::string url;   // Kind::Url: a path or URL as FFmpeg understands it
  std::string name;  // how error messages name the source
  // Kind::Memory: the bytes, kept alive by `owner` for as long as the source lives.
  std::shared_ptr<const void> owner;
  const uint8_t* data = nullptr;
  size_t size = 0;
  // Kind::Callbacks: read returns the byte count, 0 at end, <0 on error; seek follows AVIOContext
  // semantics (whence may be AVSEEK_SIZE) and may be empty for a non-seekable stream.
  std::function<int(uint8_t*, int)> read;
  std::function<int64_t(int64_t, int)> seek;
  // Set by the callbacks' owner when a read/seek failed, so the error names the real cause.
  std::shared_ptr<std::string> io_error = std::make_shared<std::string>();
  // Set from any thread to make every blocking call of this source (and its reconnections) give up.
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  double timeout_s = 0;  // per blocking call; 0 = no deadline
  std::map<std::string, std::string> options;  // FFmpeg format/protocol options
};

// Whether a URL names a live network stream (rtsp, tcp, udp, http ...) rather than a file.
bool is_network_url(const std::string& url);

class Source {
 public:
  explicit Source(SourceSpec spec);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  AVFormatContext* format() const { return fmt_; }
  const std::string& name() const { return spec_.name; }
  const SourceSpec& spec() const { return spec_; }
  bool is_network() const { return network_; }
  bool seekable() const;

  // Starts the deadline for the next blocking call (no-op without a timeout).
  void arm_deadline();
  bool timed_out() const { return timed_out_.load(); }
  // Whether spec().cancel was set: every blocking call then returns at once.
  bool aborted() const { return spec_.cancel->load(); }

 private:
  static int interrupt_cb(void* opaque);
  static int read_cb(void* opaque, uint8_t* buf, int size);
  static int64_t seek_cb(void* opaque, int64_t offset, int whence);
  void open();
  void close();
  // The container format the input's first bytes are recognised as ("" if none), to tell a damaged media
  // file from something that is not media at all.
  std::string recognised_format();

  SourceSpec spec_;
  AVFormatContext* fmt_ = nullptr;
  AVIOContext* avio_ = nullptr;
  size_t mem_pos_ = 0;
  bool network_ = false;
  std::atomic<int64_t> deadline_ns_{0};
  std::atomic<bool> timed_out_{false};
};

}  // namespace kuzet::decode
