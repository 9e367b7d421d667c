// Which frames sequential reading hands out: every Nth frame of the stream and/or about `fps` frames per
// second of stream time (by pts). The frames left out are decoded (later frames depend on them) but never
// converted or copied, which is most of what a caller pays for a frame it then throws away.
#pragma once
#include <cstdint>

#include "common/errors.hpp"

namespace kuzet::decode {

struct FrameSampling {
  int64_t every_n = 1;
  double fps = 0;  // 0: no rate limit
};

class FrameSampler {
 public:
  explicit FrameSampler(FrameSampling s = {}) : s_(s) {
    if (s.every_n < 1) throw InvalidArgument("every_n must be >= 1");
    if (!(s.fps >= 0)) throw InvalidArgument("sample_fps must be > 0 (or none)");
  }

  bool samples() const { return s_.every_n > 1 || s_.fps > 0; }

  // Frames are offered in stream order. A kept frame's successor is due 1/fps later. Where time jumps (a gap
  // of more than one period, or timestamps that go back, as after a reconnection) the schedule restarts at
  // the frame kept, instead of catching up with a burst of frames or waiting for the old clock.
  bool keep(int64_t index, double pts) {
    if (index % s_.every_n != 0) return false;
    if (s_.fps <= 0) return true;
    const double period = 1.0 / s_.fps;
    const bool went_back = started_ && pts < last_pts_;
    last_pts_ = pts;
    if (started_ && !went_back && pts < next_pts_ - 1e-6) return false;
    next_pts_ = started_ && !went_back && pts < next_pts_ + period ? next_pts_ + period : pts + period;
    started_ = true;
    return true;
  }

 private:
  FrameSampling s_;
  bool started_ = false;
  double next_pts_ = 0;
  double last_pts_ = 0;  // the last frame offered
};

}  // namespace kuzet::decode
