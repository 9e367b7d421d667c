#include "decode/source.hpp"

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include "decode/decode_errors.hpp"

extern "C" {
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace kuzet::decode {

namespace {

constexpr int kAvioBufferSize = 64 * 1024;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

bool is_network_url(const std::string& url) {
  static const char* const kSchemes[] = {"rtsp://", "rtsps://", "rtmp://", "tcp://", "udp://",
                                         "http://", "https://", "srt://",  "rtp://"};
  for (const char* scheme : kSchemes) {
    if (url.rfind(scheme, 0) == 0) return true;
  }
  return false;
}

Source::Source(SourceSpec spec) : spec_(std::move(spec)) {
  network_ = spec_.kind == SourceSpec::Kind::Url && is_network_url(spec_.url);
  try {
    open();
  } catch (...) {
    close();
    throw;
  }
}

Source::~Source() { close(); }

bool Source::seekable() const {
  if (network_) return false;
  if (spec_.kind == SourceSpec::Kind::Callbacks) return static_cast<bool>(spec_.seek);
  return fmt_ && fmt_->pb ? (fmt_->pb->seekable & AVIO_SEEKABLE_NORMAL) != 0 : true;
}

void Source::arm_deadline() {
  // timed_out_ stays set: FFmpeg keeps the interrupted read's AVERROR_EXIT in the I/O context and
  // returns it from later calls without asking the callback again.
  // Clamped to ~31 years: a larger timeout is no limit in practice, and its nanoseconds would overflow int64.
  const double seconds = std::min(spec_.timeout_s, 1e9);
  deadline_ns_.store(seconds > 0 ? now_ns() + static_cast<int64_t>(seconds * 1e9) : 0);
}

int Source::interrupt_cb(void* opaque) {
  auto* self = static_cast<Source*>(opaque);
  if (self->aborted()) return 1;
  // A source that timed out stays timed out: without this, demuxers that do not latch the error (RTSP reads
  // its own connection, not an AVIOContext) would wait a whole new timeout on the next read.
  if (self->timed_out_.load()) return 1;
  const int64_t deadline = self->deadline_ns_.load();
  if (deadline != 0 && now_ns() > deadline) {
    self->timed_out_.store(true);
    return 1;
  }
  return 0;
}

int Source::read_cb(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<Source*>(opaque);
  if (self->spec_.kind == SourceSpec::Kind::Memory) {
    const size_t left = self->spec_.size - self->mem_pos_;
    if (left == 0) return AVERROR_EOF;
    const size_t n = std::min(left, static_cast<size_t>(size));
    std::memcpy(buf, self->spec_.data + self->mem_pos_, n);
    self->mem_pos_ += n;
    return static_cast<int>(n);
  }
  const int n = self->spec_.read(buf, size);
  if (n == 0) return AVERROR_EOF;
  return n < 0 ? AVERROR(EIO) : n;
}

int64_t Source::seek_cb(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<Source*>(opaque);
  if (self->spec_.kind == SourceSpec::Kind::Memory) {
    const auto size = static_cast<int64_t>(self->spec_.size);
    int64_t target = 0;
    switch (whence & ~AVSEEK_FORCE) {
      case AVSEEK_SIZE:
        return size;
      case SEEK_SET:
        target = offset;
        break;
      case SEEK_CUR:
        target = static_cast<int64_t>(self->mem_pos_) + offset;
        break;
      case SEEK_END:
        target = size + offset;
        break;
      default:
        return AVERROR(EINVAL);
    }
    if (target < 0 || target > size) return AVERROR(EINVAL);
    self->mem_pos_ = static_cast<size_t>(target);
    return target;
  }
  if (!self->spec_.seek) return AVERROR(ENOSYS);
  const int64_t r = self->spec_.seek(offset, whence & ~AVSEEK_FORCE);
  return r < 0 ? AVERROR(EIO) : r;
}

void Source::open() {
  fmt_ = avformat_alloc_context();
  if (!fmt_) throw DecodeError(spec_.name + ": out of memory allocating the demuxer");
  fmt_->interrupt_callback.callback = &Source::interrupt_cb;
  fmt_->interrupt_callback.opaque = this;

  if (spec_.kind != SourceSpec::Kind::Url) {
    auto* buffer = static_cast<uint8_t*>(av_malloc(kAvioBufferSize));
    if (!buffer) throw DecodeError(spec_.name + ": out of memory allocating the I/O buffer");
    const bool can_seek = spec_.kind == SourceSpec::Kind::Memory || static_cast<bool>(spec_.seek);
    avio_ = avio_alloc_context(buffer, kAvioBufferSize, 0, this, &Source::read_cb, nullptr,
                               can_seek ? &Source::seek_cb : nullptr);
    if (!avio_) {
      av_free(buffer);
      throw DecodeError(spec_.name + ": out of memory allocating the I/O context");
    }
    avio_->seekable = can_seek ? AVIO_SEEKABLE_NORMAL : 0;
    fmt_->pb = avio_;
  }

  AVDictionary* opts = nullptr;
  for (const auto& [key, value] : spec_.options) av_dict_set(&opts, key.c_str(), value.c_str(), 0);
  arm_deadline();
  const char* url = spec_.kind == SourceSpec::Kind::Url ? spec_.url.c_str() : "";
  int ret = avformat_open_input(&fmt_, url, nullptr, &opts);  // frees fmt_ on failure
  av_dict_free(&opts);
  if (ret < 0) {
    fmt_ = nullptr;
    const std::string why = av_error_text(ret);
    if (timed_out()) throw StreamTimeout(spec_.name + ": no data within " + std::to_string(spec_.timeout_s) +
                                         " s while opening");
    if (!spec_.io_error->empty()) throw DecodeError(spec_.name + ": read failed (" + *spec_.io_error + ")");
    if (ret == AVERROR(ENOENT)) throw SourceNotFound(spec_.name + ": no such file");
    if (ret == AVERROR(ECONNREFUSED) || ret == AVERROR(EHOSTUNREACH) || ret == AVERROR(ENETUNREACH) ||
        ret == AVERROR_HTTP_NOT_FOUND || ret == AVERROR_PROTOCOL_NOT_FOUND)
      throw SourceNotFound(spec_.name + ": cannot open (" + why + ")");
    if (ret == AVERROR_INVALIDDATA) {
      const std::string format = recognised_format();
      if (!format.empty()) {
        throw CorruptStream(spec_.name + ": damaged " + format + " file, its header cannot be read (" + why + ")");
      }
      throw NotAVideo(spec_.name + ": not a recognised media file (" + why + ")");
    }
    throw DecodeError(spec_.name + ": cannot open (" + why + ")");
  }
  arm_deadline();
  ret = avformat_find_stream_info(fmt_, nullptr);
  if (ret < 0) {
    if (timed_out()) throw StreamTimeout(spec_.name + ": no data within " + std::to_string(spec_.timeout_s) +
                                         " s while reading stream info");
    if (!spec_.io_error->empty()) throw DecodeError(spec_.name + ": read failed (" + *spec_.io_error + ")");
    throw CorruptStream(spec_.name + ": cannot read stream information (" + av_error_text(ret) + ")");
  }
}

std::string Source::recognised_format() {
  // Only the start of the input is looked at, as FFmpeg's own probe does.
  constexpr size_t kProbeBytes = 64 * 1024;
  std::vector<uint8_t> head;
  if (spec_.kind == SourceSpec::Kind::Memory) {
    head.assign(spec_.data, spec_.data + std::min(spec_.size, kProbeBytes));
  } else if (spec_.kind == SourceSpec::Kind::Url && !network_) {
    AVIOContext* pb = nullptr;
    const AVIOInterruptCB cb{&Source::interrupt_cb, this};
    if (avio_open2(&pb, spec_.url.c_str(), AVIO_FLAG_READ, &cb, nullptr) < 0) return "";
    head.resize(kProbeBytes);
    const int n = avio_read(pb, head.data(), static_cast<int>(head.size()));
    avio_closep(&pb);
    head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  if (head.empty()) return "";
  head.resize(head.size() + AVPROBE_PADDING_SIZE, 0);
  AVProbeData probe{};
  probe.filename = "";  // judge by content only: an extension says nothing about the bytes
  probe.buf = head.data();
  probe.buf_size = static_cast<int>(head.size() - AVPROBE_PADDING_SIZE);
  int score = 0;
  const AVInputFormat* format = av_probe_input_format2(&probe, 1, &score);
  if (!format || score <= AVPROBE_SCORE_EXTENSION) return "";
  return format->long_name ? format->long_name : format->name;
}

void Source::close() {
  if (fmt_) avformat_close_input(&fmt_);
  if (avio_) {
    av_freep(&avio_->buffer);
    avio_context_free(&avio_);
  }
}

}  // namespace kuzet::decode
