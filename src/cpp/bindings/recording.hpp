// Live evidence recording for the live reader (bind_record.cpp): a decode::TapFactory whose taps record
// each connection (record/live_recorder.hpp) and report to a Python listener.
#pragma once
#include <pybind11/pybind11.h>

#include "decode/live.hpp"
#include "hash/segment_record.hpp"

namespace kuzet::bindings {

// The listener (kuzet.pipeline.live_evidence.LiveRecording) is called with the GIL, from native threads:
//   recording_path(connection) -> str      where connection n is recorded (raise: do not record it)
//   target_duration_s: float
//   started(connection, path)              the recording exists (raise: give it up)
//   segment(connection, record: dict, start_s, end_s, prediction_confirmed)   a segment closed; start_s/end_s:
//       its video packets' smallest and largest pts in the reader's seconds (None: none)
//   failed(connection, message)            a problem; the recording stops growing, unless the message says
//       what was "left out" of it (a stream it cannot carry, a packet with a broken timestamp) and it goes on
decode::TapFactory recording_tap_factory(pybind11::object listener);

// A segment record as the dict kuzet.evidence.records.SegmentRecord._from_native takes (bind_hash.cpp).
pybind11::dict segment_record_dict(const hash::SegmentRecord& r);

}  // namespace kuzet::bindings
