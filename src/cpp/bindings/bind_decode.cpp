// kuzet._core decoding API: a native VideoDecoder (wrapped by kuzet.VideoReader in python/kuzet/video.py)
// and the DecodeError hierarchy. Every decoding call runs with the GIL released; file-like sources take
// it back only inside their read/seek callbacks.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>

#include "bindings/bindings.hpp"
#include "bindings/python_errors.hpp"
#include "bindings/recording.hpp"
#include "decode/cuda_device.hpp"
#include "decode/decode_errors.hpp"
#include "decode/decoder.hpp"
#include "decode/frame_buffer.hpp"
#include "decode/gpu_frames.hpp"
#include "decode/live.hpp"

extern "C" {
#include <libavutil/log.h>
}

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

using namespace kuzet::decode;

// Keeps a Python object alive from native code; dropping it takes the GIL, whatever thread does so.
std::shared_ptr<py::object> hold(py::object obj) {
  return std::shared_ptr<py::object>(new py::object(std::move(obj)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

// The array's base capsule owns the buffer and gives it back to the pool when numpy frees the array.
py::array owned_array(FrameBuffer buf, const std::vector<size_t>& shape) {
  uint8_t* data = buf.get();
  auto* holder = new FrameBuffer(std::move(buf));
  py::capsule owner(holder, [](void* p) { delete static_cast<FrameBuffer*>(p); });
  return py::array(py::dtype::of<uint8_t>(), shape, {}, data, owner);
}

py::dict metadata_dict(const StreamMetadata& m) {
  py::dict d;
  d["container"] = m.container;
  d["codec"] = m.codec;
  d["profile"] = m.profile;
  d["width"] = m.width;
  d["height"] = m.height;
  d["frame_rate"] = py::make_tuple(m.frame_rate.num, m.frame_rate.den);
  d["average_frame_rate"] = py::make_tuple(m.average_frame_rate.num, m.average_frame_rate.den);
  d["time_base"] = py::make_tuple(m.time_base.num, m.time_base.den);
  d["duration"] = m.duration;
  d["start_time"] = m.start_time;
  d["frame_count"] = m.frame_count;
  d["rotation"] = m.rotation;
  d["pixel_format"] = m.pixel_format;
  d["color_space"] = m.color_space;
  d["color_range"] = m.color_range;
  d["color_primaries"] = m.color_primaries;
  d["color_transfer"] = m.color_transfer;
  d["bit_rate"] = m.bit_rate;
  return d;
}

py::dict stats_dict(const DecodeStats& s) {
  py::dict d;
  d["decoded"] = s.decoded;
  d["corrupt"] = s.corrupt;
  d["skipped"] = s.skipped;
  d["dropped"] = s.dropped;
  d["reconnects"] = s.reconnects;
  d["sampled_out"] = s.sampled_out;
  return d;
}

// One decoder used from Python. The mutex serialises calls from several Python threads; it is always
// taken after the GIL is released, so the two locks never wait on each other.
class PyDecoder {
 public:
  PyDecoder(std::unique_ptr<Decoder> d, FrameSampling sampling)
      : name_(d->name()), cancel_(d->cancel_flag()), decoder_(std::move(d)), sampler_(sampling) {}

  Decoder& get() {
    if (!decoder_) throw DecodeError(name_ + ": the reader is closed");
    return *decoder_;
  }

  py::object next_frame(const std::string& layout_name) {
    const Layout layout = parse_layout(layout_name);
    DecodedFrame f;
    FrameBuffer buf;
    FrameGeometry geo;
    bool got = false;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      Decoder& d = get();
      got = next_sampled(d, f);
      if (got) {
        geo = d.device().geometry(f.frame, layout);
        buf = allocate_frame_buffer(geo.bytes);
        d.device().convert(f.frame, layout, buf.get());
      }
    }
    if (!got) return py::none();
    return py::make_tuple(owned_array(std::move(buf), geo.shape), f.pts_raw, f.pts, f.index, f.key_frame);
  }

  // Like next_frame, but the frame stays in GPU memory (a DeviceArray); readers on a CUDA device only.
  py::object next_frame_cuda(const std::string& layout_name) {
    const Layout layout = parse_layout(layout_name);
    DecodedFrame f;
    std::shared_ptr<DeviceArray> array;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      Decoder& d = get();
      if (next_sampled(d, f)) array = frame_on_gpu(d, f.frame, layout);
    }
    if (!array) return py::none();
    return py::make_tuple(py::cast(array), f.pts_raw, f.pts, f.index, f.key_frame);
  }

  // Frame `index` (exact seek) in GPU memory; sequential reading then continues after it.
  py::tuple frame_cuda_at(int64_t index, const std::string& layout_name) {
    const Layout layout = parse_layout(layout_name);
    DecodedFrame f;
    std::shared_ptr<DeviceArray> array;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      Decoder& d = get();
      d.seek_to_index(index);
      if (!d.next(f)) throw DecodeError(d.name() + ": frame " + std::to_string(index) + " is missing");
      array = frame_on_gpu(d, f.frame, layout);
    }
    return py::make_tuple(py::cast(array), f.pts_raw, f.pts, f.index, f.key_frame);
  }

  py::tuple get_frames(const std::vector<int64_t>& indices, const std::string& layout_name) {
    const Layout layout = parse_layout(layout_name);
    const size_t n = indices.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return indices[a] < indices[b]; });
    std::vector<int64_t> pts_raw(n), index(n);
    std::vector<double> pts(n);
    std::vector<uint8_t> key(n);
    FrameBuffer batch;
    FrameGeometry geo;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      Decoder& d = get();
      for (size_t j = 0; j < n; ++j) {
        const size_t slot = order[j];
        if (j > 0 && indices[slot] == indices[order[j - 1]]) {  // repeated index: copy the frame already made
          const size_t prev = order[j - 1];
          std::memcpy(batch.get() + slot * geo.bytes, batch.get() + prev * geo.bytes, geo.bytes);
          pts_raw[slot] = pts_raw[prev];
          pts[slot] = pts[prev];
          index[slot] = index[prev];
          key[slot] = key[prev];
          continue;
        }
        d.seek_to_index(indices[slot]);
        DecodedFrame f;
        if (!d.next(f)) throw DecodeError(d.name() + ": frame " + std::to_string(indices[slot]) + " is missing");
        const FrameGeometry this_geo = d.device().geometry(f.frame, layout);
        if (j == 0) {
          geo = this_geo;
          batch = allocate_frame_buffer(geo.bytes * n);
        } else if (this_geo.shape != geo.shape || this_geo.bytes != geo.bytes) {
          throw DecodeError(d.name() + ": frame " + std::to_string(f.index) +
                            " has a different size or pixel format than the rest of the batch");
        }
        d.device().convert(f.frame, layout, batch.get() + slot * geo.bytes);
        pts_raw[slot] = f.pts_raw;
        pts[slot] = f.pts;
        index[slot] = f.index;
        key[slot] = f.key_frame;
      }
    }
    std::vector<size_t> shape{n};
    if (n == 0) {
      shape.push_back(0);
      batch = allocate_frame_buffer(0);
    } else {
      shape.insert(shape.end(), geo.shape.begin(), geo.shape.end());
    }
    py::array bools = py::array_t<bool>(static_cast<py::ssize_t>(n));
    std::copy(key.begin(), key.end(), static_cast<bool*>(bools.mutable_data()));
    return py::make_tuple(owned_array(std::move(batch), shape), py::array_t<int64_t>(n, pts_raw.data()),
                          py::array_t<double>(n, pts.data()), py::array_t<int64_t>(n, index.data()), bools);
  }

  py::array_t<int64_t> frame_pts() {
    std::vector<int64_t> copy;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      copy = get().frame_pts();
    }
    return py::array_t<int64_t>(copy.size(), copy.data());
  }

  py::dict metadata() {
    StreamMetadata copy;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);  // close() in another thread must not free it meanwhile
      copy = get().metadata();
    }
    return metadata_dict(copy);
  }
  py::dict stats() {
    DecodeStats copy;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);  // another thread may be decoding
      copy = get().stats();
      copy.sampled_out = sampled_out_;
    }
    return stats_dict(copy);
  }
  std::string device() {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    return get().device().name();
  }
  std::string fallback_reason() {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    return get().fallback_reason();
  }

  // Safe from any thread, any number of times: the shared flag unblocks a read in progress in another
  // thread, whose call then returns and lets go of the lock.
  void close() {
    std::unique_ptr<Decoder> doomed;
    {
      py::gil_scoped_release release;
      cancel_->store(true);
      std::lock_guard<std::mutex> lock(mutex_);
      doomed = std::move(decoder_);
      doomed.reset();  // joins the codec's threads without the GIL
    }
  }

 private:
  // The next frame sequential reading hands out (decoding past the ones the sampler leaves out, which are
  // never converted). Called with mutex_ held.
  bool next_sampled(Decoder& d, DecodedFrame& f) {
    while (d.next(f)) {
      if (sampler_.keep(f.index, f.pts)) return true;
      ++sampled_out_;
    }
    return false;
  }

  std::string name_;  // the source, for errors after close()
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::unique_ptr<Decoder> decoder_;
  std::mutex mutex_;
  FrameSampler sampler_;     // sequential reading only; random access (get_frames) ignores it
  int64_t sampled_out_ = 0;  // guarded by mutex_
};

// A live reader: frames come from the native thread's bounded queue.
class PyLiveDecoder {
 public:
  explicit PyLiveDecoder(std::unique_ptr<LiveDecoder> d) : name_(d->name()), live_(std::move(d)) {}
  PyLiveDecoder(const PyLiveDecoder&) = delete;
  PyLiveDecoder& operator=(const PyLiveDecoder&) = delete;
  // Garbage collection runs this with the GIL held; the decode thread may be waiting for the GIL inside
  // a file object's read, so let go of it while the thread stops.
  ~PyLiveDecoder() { close(); }

  // A reference for one call: close() from another thread may drop live_ meanwhile.
  std::shared_ptr<LiveDecoder> acquire() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!live_) throw DecodeError(name_ + ": the reader is closed");
    return live_;
  }

  // The next frame from the queue (waiting without the GIL); false at the end of the stream.
  bool pop(LiveFrame& f) {
    std::shared_ptr<LiveDecoder> live = acquire();
    py::gil_scoped_release release;
    return live->pop(f);
  }

  py::object next_frame() {
    LiveFrame f;
    if (!pop(f)) return py::none();
    return py::make_tuple(frame_data(f), f.pts_raw, f.pts, f.index, f.key_frame);
  }

  // next_frame() plus (connection, evidence segment) when the reader records evidence.
  py::object next_frame_recorded() {
    LiveFrame f;
    if (!pop(f)) return py::none();
    return py::make_tuple(frame_data(f), f.pts_raw, f.pts, f.index, f.key_frame, f.connection, f.segment);
  }

  py::dict metadata() { return metadata_dict(acquire()->metadata()); }
  py::dict stats() { return stats_dict(acquire()->stats()); }
  std::string device() { return acquire()->device_name(); }
  std::string fallback_reason() { return acquire()->fallback_reason(); }

  // Safe from any thread, any number of times: stop() wakes a pop in progress, which returns "no frame".
  void close() {
    py::gil_scoped_release release;  // the thread may need the GIL (file objects) to finish
    std::shared_ptr<LiveDecoder> doomed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      doomed = std::move(live_);
    }
    if (doomed) doomed->stop();
  }

 private:
  // A numpy array (host frames) or a DeviceArray (a reader opened with gpu_frames).
  static py::object frame_data(LiveFrame& f) {
    if (f.gpu) return py::cast(std::move(f.gpu));
    return owned_array(std::move(f.data), f.geometry.shape);
  }

  std::mutex mutex_;  // guards live_ itself, never held while decoding or waiting
  std::string name_;  // the source, for errors after close()
  std::shared_ptr<LiveDecoder> live_;
};

SourceSpec spec_from_python(const std::string& kind, const py::object& target, const std::string& name,
                            double timeout_s, const std::map<std::string, std::string>& options) {
  SourceSpec spec;
  spec.name = name;
  spec.timeout_s = timeout_s;
  spec.options = options;
  if (kind == "url") {
    spec.kind = SourceSpec::Kind::Url;
    spec.url = target.cast<std::string>();
  } else if (kind == "memory") {
    spec.kind = SourceSpec::Kind::Memory;
    auto view = std::shared_ptr<py::buffer_info>(new py::buffer_info(py::buffer(target).request()),
                                                 [](py::buffer_info* p) {
                                                   py::gil_scoped_acquire gil;
                                                   delete p;
                                                 });
    spec.data = static_cast<const uint8_t*>(view->ptr);
    spec.size = static_cast<size_t>(view->size * view->itemsize);
    spec.owner = view;
  } else if (kind == "file") {
    spec.kind = SourceSpec::Kind::Callbacks;
    auto file = hold(target);
    auto io_error = spec.io_error;
    const bool has_readinto = py::hasattr(target, "readinto");
    // These run inside FFmpeg's C I/O callbacks: nothing may be thrown through them, so every failure becomes
    // -1 with the reason kept in io_error (reported by the DecodeError that follows).
    spec.read = [file, io_error, has_readinto](uint8_t* buf, int size) -> int {
      py::gil_scoped_acquire gil;
      try {
        if (has_readinto) {
          py::object mv = py::memoryview::from_memory(buf, size, false);
          py::object n = file->attr("readinto")(mv);
          if (n.is_none()) return 0;  // a non-blocking stream with nothing now: taken as the end (0 is EOF)
          if (!py::isinstance<py::int_>(n)) {
            *io_error = "readinto() returned " + std::string(py::str(py::type::of(n).attr("__name__"))) +
                        ", not a byte count";
            return -1;
          }
          const long long got = n.cast<long long>();
          if (got < 0 || got > size) {  // FFmpeg would trust it and read past what was written
            *io_error = "readinto() returned " + std::to_string(got) + " for a buffer of " + std::to_string(size) +
                        " bytes";
            return -1;
          }
          return static_cast<int>(got);
        }
        py::object data = file->attr("read")(size);
        if (!py::isinstance<py::bytes>(data)) {
          *io_error = "read() returned " + std::string(py::str(py::type::of(data).attr("__name__"))) +
                      ", not bytes (open the file in binary mode, 'rb')";
          return -1;
        }
        const std::string s = data.cast<std::string>();
        const int n = static_cast<int>(std::min<size_t>(s.size(), static_cast<size_t>(size)));
        std::memcpy(buf, s.data(), static_cast<size_t>(n));
        return n;
      } catch (py::error_already_set& e) {
        *io_error = e.what();
        return -1;
      } catch (const std::exception& e) {
        *io_error = e.what();
        return -1;
      }
    };
    const bool seekable = py::hasattr(target, "seekable") && target.attr("seekable")().cast<bool>();
    if (seekable) {
      spec.seek = [file, io_error](int64_t offset, int whence) -> int64_t {
        py::gil_scoped_acquire gil;
        try {
          if (whence == AVSEEK_SIZE) {
            const auto here = file->attr("tell")().cast<int64_t>();
            const auto end = file->attr("seek")(0, 2).cast<int64_t>();
            file->attr("seek")(here, 0);
            return end;
          }
          return file->attr("seek")(offset, whence).cast<int64_t>();
        } catch (py::error_already_set& e) {
          *io_error = e.what();
          return -1;
        } catch (const std::exception& e) {  // e.g. seek() returning something that is not an int
          *io_error = std::string("seek: ") + e.what();
          return -1;
        }
      };
    }
  } else {
    throw InvalidArgument("unknown source kind '" + kind + "'");
  }
  return spec;
}

std::unique_ptr<PyDecoder> open_decoder(const std::string& kind, const py::object& target, const std::string& name,
                                        const std::string& device, int threads, bool skip_errors, double timeout_s,
                                        const std::map<std::string, std::string>& options, int64_t every_n,
                                        double sample_fps, bool nvdec_fallback) {
  if (threads < 0) throw InvalidArgument("threads must be >= 0 (0 = one per core), got " + std::to_string(threads));
  const FrameSampler checked({every_n, sample_fps});  // bad values fail before the source is opened
  SourceSpec spec = spec_from_python(kind, target, name, timeout_s, options);
  DecoderOptions opts{device, threads, skip_errors, nvdec_fallback};
  std::unique_ptr<Decoder> decoder;
  {
    py::gil_scoped_release release;  // opening probes the stream: I/O and some decoding
    decoder = std::make_unique<Decoder>(std::move(spec), std::move(opts));
  }
  return std::make_unique<PyDecoder>(std::move(decoder), FrameSampling{every_n, sample_fps});
}

std::unique_ptr<PyLiveDecoder> open_live(const std::string& kind, const py::object& target, const std::string& name,
                                         const std::string& device, int threads, bool skip_errors, double timeout_s,
                                         const std::map<std::string, std::string>& options,
                                         const std::string& layout, const std::string& buffer, size_t buffer_size,
                                         int reconnect, double backoff_s, const py::object& recorder,
                                         int64_t every_n, double sample_fps, bool gpu_frames, bool nvdec_fallback) {
  if (threads < 0) throw InvalidArgument("threads must be >= 0 (0 = one per core), got " + std::to_string(threads));
  if (buffer != "drop_oldest" && buffer != "block") {
    throw InvalidArgument("buffer must be 'drop_oldest' or 'block', got '" + buffer + "'");
  }
  if (reconnect < 0) throw InvalidArgument("reconnect must be >= 0, got " + std::to_string(reconnect));
  if (backoff_s < 0) throw InvalidArgument("reconnect_backoff must be >= 0 seconds");
  LiveOptions live;
  live.capacity = buffer_size;
  live.policy = buffer == "block" ? BufferPolicy::Block : BufferPolicy::DropOldest;
  live.max_reconnects = reconnect;
  live.backoff_initial_s = backoff_s;
  live.backoff_max_s = std::max(8.0, backoff_s);
  live.sampling = {every_n, sample_fps};
  live.gpu_frames = gpu_frames;
  const FrameSampler checked(live.sampling);  // bad values fail before the source is opened
  if (!recorder.is_none()) live.tap = recording_tap_factory(recorder);  // live evidence (bind_record.cpp)
  SourceSpec spec = spec_from_python(kind, target, name, timeout_s, options);
  const Layout parsed = parse_layout(layout);
  std::unique_ptr<LiveDecoder> decoder;
  {
    py::gil_scoped_release release;
    DecoderOptions options{device, threads, skip_errors, nvdec_fallback};
    decoder = std::make_unique<LiveDecoder>(std::move(spec), std::move(options), parsed, live);
  }
  return std::make_unique<PyLiveDecoder>(std::move(decoder));
}

int ffmpeg_log_level_from_env() {
  const char* env = std::getenv("KUZET_FFMPEG_LOG");
  const std::string level = env ? env : "";
  if (level == "error") return AV_LOG_ERROR;
  if (level == "warning") return AV_LOG_WARNING;
  if (level == "info") return AV_LOG_INFO;
  if (level == "debug") return AV_LOG_DEBUG;
  return AV_LOG_FATAL;
}

}  // namespace

void bind_rgb_convert_hook(py::module_& m);  // decode/rgb_convert_hook.cpp

void bind_decode(py::module_& m) {
  // FFmpeg's own log lines would duplicate (and interleave with) the exceptions we raise; set
  // KUZET_FFMPEG_LOG=error|warning|info|debug to see them when investigating a file.
  av_log_set_level(ffmpeg_log_level_from_env());

  raise_as_python_error<DecodeError>("DecodeError");
  raise_as_python_error<SourceNotFound>("SourceNotFound");
  raise_as_python_error<NotAVideo>("NotAVideo");
  raise_as_python_error<UnsupportedCodec>("UnsupportedCodec");
  raise_as_python_error<CorruptStream>("CorruptStream");
  raise_as_python_error<EncryptedStream>("EncryptedStream");
  raise_as_python_error<StreamTimeout>("StreamTimeout");
  raise_as_python_error<DeviceUnavailable>("DeviceUnavailable");
  bind_rgb_convert_hook(m);

  py::class_<PyDecoder>(m, "VideoDecoder", "Native video decoder; use kuzet.VideoReader.")
      .def(py::init(&open_decoder), py::arg("kind"), py::arg("target"), py::arg("name"), py::arg("device"),
           py::arg("threads"), py::arg("skip_errors"), py::arg("timeout"), py::arg("options"),
           py::arg("every_n") = 1, py::arg("sample_fps") = 0.0, py::arg("nvdec_fallback") = false)
      .def("next_frame", &PyDecoder::next_frame, py::arg("layout"),
           "(data, pts_raw, pts, index, key_frame) of the next frame, or None at the end")
      .def("get_frames", &PyDecoder::get_frames, py::arg("indices"), py::arg("layout"),
           "(data, pts_raw, pts, index, key_frame) arrays for the given frame indices (exact seek)")
      .def("frame_pts", &PyDecoder::frame_pts, "pts (time-base units) of every frame of the decoded stream")
      .def("metadata", &PyDecoder::metadata)
      .def("stats", &PyDecoder::stats)
      .def_property_readonly("device", &PyDecoder::device)
      .def_property_readonly("fallback_reason", &PyDecoder::fallback_reason)
      .def("next_frame_cuda", &PyDecoder::next_frame_cuda, py::arg("layout"),
           "(DeviceArray, pts_raw, pts, index, key_frame) of the next frame, or None at the end (CUDA readers)")
      .def("frame_cuda_at", &PyDecoder::frame_cuda_at, py::arg("index"), py::arg("layout"),
           "(DeviceArray, pts_raw, pts, index, key_frame) of frame `index` (exact seek; CUDA readers)")
      .def("close", &PyDecoder::close);

  py::class_<PyLiveDecoder>(m, "LiveVideoDecoder",
                            "Native live decoder (background thread, bounded queue); use kuzet.VideoReader.")
      .def(py::init(&open_live), py::arg("kind"), py::arg("target"), py::arg("name"), py::arg("device"),
           py::arg("threads"), py::arg("skip_errors"), py::arg("timeout"), py::arg("options"), py::arg("layout"),
           py::arg("buffer"), py::arg("buffer_size"), py::arg("reconnect"), py::arg("reconnect_backoff"),
           py::arg("recorder") = py::none(), py::arg("every_n") = 1, py::arg("sample_fps") = 0.0,
           py::arg("gpu_frames") = false, py::arg("nvdec_fallback") = false)
      .def("next_frame", &PyLiveDecoder::next_frame,
           "(data, pts_raw, pts, index, key_frame) of the next frame, or None at the end; data is a DeviceArray "
           "when the reader was opened with gpu_frames")
      .def("next_frame_recorded", &PyLiveDecoder::next_frame_recorded,
           "(data, pts_raw, pts, index, key_frame, connection, segment) of the next frame, or None at the end")
      .def("metadata", &PyLiveDecoder::metadata)
      .def("stats", &PyLiveDecoder::stats)
      .def_property_readonly("device", &PyLiveDecoder::device)
      .def_property_readonly("fallback_reason", &PyLiveDecoder::fallback_reason)
      .def("close", &PyLiveDecoder::close);
}

}  // namespace kuzet::bindings
