// Live evidence recording for kuzet._core.LiveVideoDecoder(recorder=...): one LiveRecorder per connection,
// reporting to a Python listener (see recording.hpp). Native threads call the listener with the GIL taken;
// a listener that raises turns into a failed() report, never into a crash or a stopped decoder.
#include <memory>
#include <string>
#include <vector>

#include "bindings/recording.hpp"
#include "record/live_recorder.hpp"

namespace py = pybind11;

namespace kuzet::bindings {

namespace {

using Listener = std::shared_ptr<py::object>;

// Dropping the last reference takes the GIL, whatever thread does so.
Listener hold_listener(py::object obj) {
  return Listener(new py::object(std::move(obj)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

// A decoder-time-base timestamp in seconds (None: none).
py::object seconds(std::int64_t ts, int num, int den) {
  if (ts == hash::kNoTimestamp || den == 0) return py::none();
  return py::float_(static_cast<double>(ts) * num / den);
}

// Reports a problem; a listener failing at that too has nobody left to tell.
void report_failure(const Listener& listener, int connection, const std::string& message) {
  py::gil_scoped_acquire gil;
  try {
    listener->attr("failed")(connection, message);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("kuzet live evidence listener");
  }
}

record::RecorderEvents events_for(const Listener& listener, int connection) {
  record::RecorderEvents events;
  events.segment = [listener, connection](const record::ClosedSegment& closed) {
    std::string problem;
    {
      py::gil_scoped_acquire gil;
      try {
        listener->attr("segment")(connection, segment_record_dict(closed.record), seconds(closed.first_pts, closed.time_base_num, closed.time_base_den),
                                  seconds(closed.last_pts, closed.time_base_num, closed.time_base_den),
                                  closed.prediction_confirmed);
      } catch (py::error_already_set& e) {
        problem = e.what();
      }
    }
    if (!problem.empty()) report_failure(listener, connection, problem);
  };
  events.error = [listener, connection](const std::string& message) { report_failure(listener, connection, message); };
  return events;
}

std::unique_ptr<decode::ConnectionTap> make_recorder(const Listener& listener, const AVStream& video,
                                                     const std::vector<const AVStream*>& streams, int connection) {
  std::string path;
  double target = 0;
  try {
    py::gil_scoped_acquire gil;
    path = listener->attr("recording_path")(connection).cast<std::string>();
    target = listener->attr("target_duration_s").cast<double>();
  } catch (py::error_already_set& e) {
    report_failure(listener, connection, e.what());
    return nullptr;
  }
  std::unique_ptr<record::LiveRecorder> recorder;
  try {
    recorder = std::make_unique<record::LiveRecorder>(path, video, streams, target, events_for(listener, connection));
  } catch (const std::exception& e) {
    report_failure(listener, connection, e.what());
    return nullptr;
  }
  std::string problem;
  {
    py::gil_scoped_acquire gil;
    try {
      listener->attr("started")(connection, path);
    } catch (py::error_already_set& e) {
      problem = e.what();
    }
  }
  if (!problem.empty()) {
    report_failure(listener, connection, problem);
    return nullptr;  // the recorder finishes without the GIL held: its segmenter may call the listener
  }
  return recorder;
}

}  // namespace

decode::TapFactory recording_tap_factory(py::object listener) {
  Listener held = hold_listener(std::move(listener));
  return [held](const AVStream& video, const std::vector<const AVStream*>& streams,
                int connection) -> std::unique_ptr<decode::ConnectionTap> {
    try {
      return make_recorder(held, video, streams, connection);
    } catch (const std::exception& e) {  // e.g. out of memory: the analysis goes on unrecorded
      report_failure(held, connection, e.what());
      return nullptr;
    }
  };
}

}  // namespace kuzet::bindings
