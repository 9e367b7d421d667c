// The canonical, versioned byte encoding of one segment record: the data under each Merkle leaf.
// docs/evidence-format.md documents the exact layout; changing it means a new version tag.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "hash/sha256.hpp"

namespace kuzet::hash {

// "No timestamp" (libavformat's AV_NOPTS_VALUE) is encoded as INT64_MIN.
constexpr std::int64_t kNoTimestamp = INT64_MIN;

struct SegmentRecord {
  std::uint64_t index = 0;
  std::int64_t start_pts = kNoTimestamp;  // first video packet's pts, in the video stream time base
  std::int64_t end_pts = kNoTimestamp;    // largest pts among the segment's video packets
  std::int32_t time_base_num = 0;         // the video stream's time base
  std::int32_t time_base_den = 0;
  std::uint64_t packet_count = 0;
  std::uint64_t byte_length = 0;           // sum of packet payload sizes
  Digest payload_digest{};                 // per stream, in order: each packet's flags, size and bytes
  Digest timing_digest{};                  // per stream, in order: each packet's pts and dts
  Digest stream_params_digest{};           // codec ids, time bases and extradata of all streams
  std::map<std::string, std::string> metadata;  // sorted by key (bytewise): device id, GPS, wall clock...
};

inline constexpr const char* kSegmentRecordTag = "kuzet.segment.v1";

std::string encode_segment_record(const SegmentRecord& r);

}  // namespace kuzet::hash
