#include "decode/live.hpp"

#include <algorithm>
#include <chrono>

#include "common/cuda_runtime_info.hpp"
#include "decode/decode_errors.hpp"
#include "decode/gpu_frames.hpp"

namespace kuzet::decode {

namespace {

void add_stats(DecodeStats& total, const DecodeStats& part) {
  total.decoded += part.decoded;
  total.corrupt += part.corrupt;
  total.skipped += part.skipped;
}

}  // namespace

LiveDecoder::LiveDecoder(SourceSpec spec, DecoderOptions options, Layout layout, LiveOptions live)
    : spec_(std::move(spec)), options_(std::move(options)), layout_(layout), live_(live), sampler_(live.sampling) {
  if (live_.capacity == 0) throw InvalidArgument("buffer_size must be at least 1");
  if (live_.gpu_frames) {
    const int gpu = cuda_device_index(options_.device);
    if (gpu < 0) {
      throw InvalidArgument("frames in GPU memory need device 'cuda' or 'cuda:N', got '" + options_.device + "'");
    }
    if (const std::string why = cuda_device_unusable(gpu); !why.empty()) {
      throw DeviceUnavailable(spec_.name + ": frames cannot be delivered in the memory of cuda:" +
                              std::to_string(gpu) + ": " + why);
    }
  }
  std::exception_ptr error;
  first_ = open_with_retries(1 + live_.max_reconnects, &error);  // the connection, then N retries
  if (!first_) std::rethrow_exception(error);
  attach_tap(*first_);
  metadata_ = first_->metadata();
  device_name_ = first_->device().name();
  fallback_reason_ = first_->fallback_reason();
  thread_ = std::thread([this] { run(); });
}

LiveDecoder::~LiveDecoder() {
  stop();
  finish_tap();  // the thread never ran (or already finished it)
}

void LiveDecoder::attach_tap(Decoder& decoder) {
  if (!live_.tap) return;
  try {
    tap_ = live_.tap(decoder.video_stream(), decoder.streams(), connection_number_);
    if (!tap_) return;
    ConnectionTap* tap = tap_.get();
    if (decoder.rtcp_synchronised()) tap->rtcp_synchronised();
    decoder.set_packet_tap([tap](const AVPacket& pkt) { tap->packet(pkt); }, tap->extra_streams());
  } catch (...) {  // a recording that cannot start never stops the decoding (the factory reports why)
    tap_.reset();
    decoder.set_packet_tap(nullptr);
  }
}

void LiveDecoder::finish_tap() {
  if (tap_) tap_->finish();
}

void LiveDecoder::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  spec_.cancel->store(true);  // interrupts a blocking read or connect
  not_full_.notify_all();
  not_empty_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LiveDecoder::sleep_unless_stopped(double seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !not_full_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return stopping_; });
}

std::unique_ptr<Decoder> LiveDecoder::open_with_retries(int attempts, std::exception_ptr* last_error) {
  const bool may_retry = is_network_url(spec_.url) && spec_.kind == SourceSpec::Kind::Url;
  double backoff = live_.backoff_initial_s;
  for (int attempt = 0;; ++attempt) {
    try {
      return std::make_unique<Decoder>(spec_, options_);
    } catch (const DeviceUnavailable&) {
      throw;
    } catch (const InvalidArgument&) {
      throw;
    } catch (...) {
      *last_error = std::current_exception();
    }
    if (!may_retry || attempt + 1 >= attempts || spec_.cancel->load()) return nullptr;
    if (!sleep_unless_stopped(backoff)) return nullptr;
    backoff = std::min(backoff * 2, live_.backoff_max_s);
  }
}

void LiveDecoder::push(LiveFrame frame) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (queue_.size() >= live_.capacity) {
    if (live_.policy == BufferPolicy::DropOldest) {
      queue_.pop_front();
      ++stats_.dropped;
    } else {
      not_full_.wait(lock, [this] { return stopping_ || queue_.size() < live_.capacity; });
      if (stopping_) return;
    }
  }
  queue_.push_back(std::move(frame));
  not_empty_.notify_one();
}

void LiveDecoder::pump(Decoder& decoder) {
  DecodedFrame f;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    const bool got = decoder.next(f);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      connection_ = decoder.stats();
    }
    if (!got) return;
    const int64_t index = next_index_++;  // counts across reconnections
    if (!sampler_.keep(index, f.pts)) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.sampled_out;
      continue;
    }
    LiveFrame out;
    out.geometry = decoder.device().geometry(f.frame, layout_);
    if (live_.gpu_frames) {
      out.gpu = frame_on_gpu(decoder, f.frame, layout_);
    } else {
      out.data = allocate_frame_buffer(out.geometry.bytes);
      decoder.device().convert(f.frame, layout_, out.data.get());
    }
    out.pts_raw = f.pts_raw;
    out.pts = f.pts;
    out.key_frame = f.key_frame;
    out.index = index;
    out.connection = connection_number_;
    out.segment = tap_ ? tap_->segment_of(f.pts_raw) : -1;
    push(std::move(out));
  }
}

void LiveDecoder::run() {
  std::unique_ptr<Decoder> decoder = std::move(first_);
  std::exception_ptr error;
  const bool network = is_network_url(spec_.url) && spec_.kind == SourceSpec::Kind::Url;
  while (decoder) {
    error = nullptr;
    bool device_refused = false;
    try {
      pump(*decoder);
    } catch (const DeviceUnavailable&) {
      // The device turned the stream down (NVDEC at its first frame: profile, size): a reconnection would
      // only be turned down again, for ever.
      error = std::current_exception();
      device_refused = true;
    } catch (...) {
      error = std::current_exception();
    }
    finish_tap();  // seals the connection's recording: what was received, up to the drop
    {
      std::lock_guard<std::mutex> lock(mutex_);
      add_stats(stats_, connection_);
      connection_ = DecodeStats{};
      if (stopping_) break;
    }
    decoder.reset();
    tap_.reset();
    // A file ends for good; a live network stream that ended or failed is reconnected.
    if (!network || live_.max_reconnects == 0 || device_refused) break;
    if (!sleep_unless_stopped(live_.backoff_initial_s)) break;
    std::exception_ptr open_error;
    try {
      decoder = open_with_retries(live_.max_reconnects, &open_error);  // reconnect=N: N attempts an outage
    } catch (...) {
      open_error = std::current_exception();
    }
    if (!decoder) {
      if (open_error) error = open_error;
      break;
    }
    ++connection_number_;
    attach_tap(*decoder);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.reconnects;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stopping_) error_ = error;
  ended_ = true;
  not_empty_.notify_all();
}

bool LiveDecoder::pop(LiveFrame& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  not_empty_.wait(lock, [this] { return !queue_.empty() || ended_ || stopping_; });
  if (!queue_.empty()) {
    out = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return true;
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return false;
}

DecodeStats LiveDecoder::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  DecodeStats s = stats_;
  add_stats(s, connection_);
  return s;
}

}  // namespace kuzet::decode
