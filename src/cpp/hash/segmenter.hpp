// Splits an encoded media stream into GOP-aligned segments and hashes each segment's compressed packets,
// using libavformat demuxing only (nothing is decoded). Packets stream into incremental SHA-256 contexts:
// a segment is never buffered, so live sources (pipes, FIFOs, network URLs) work the same as files.
#pragma once
#include <functional>
#include <string>

#include "hash/evidence_errors.hpp"
#include "hash/segment_record.hpp"

namespace kuzet::hash {

inline constexpr int kStreamParamsVersion = 2;  // what new recordings are sealed with

struct SegmenterOptions {
  // A segment closes at the first video key frame whose pts is at least this far after the segment start.
  double target_duration_s = 2.0;
  std::string input_format;  // libavformat short name to force (e.g. "mpegts" for a pipe); empty = probe
  // Polled while waiting for input (a live source may block for long); true aborts segmenting, which then
  // throws SegmentationInterrupted. Empty = never.
  std::function<bool()> should_interrupt;
  // Told of each packet as it joins the segment in progress (is_video: of the video stream), so a caller can
  // count what each emitted segment holds per stream kind (a live recorder checks its prediction). Empty = none.
  std::function<void(bool is_video)> on_packet;
  // What stream_params_digest covers (docs/evidence-format.md): 1 = each stream's media type, codec, time base
  // and extradata (manifests without an "algorithms.stream_params" entry); 2 = also each video stream's coded
  // size, sample aspect ratio and display matrix, so a picture rotated or mirrored by its container is caught.
  int stream_params_version = kStreamParamsVersion;
};

struct SegmentationInterrupted : EvidenceError {
  using EvidenceError::EvidenceError;
};

struct SegmentationResult {
  std::uint64_t segment_count = 0;
  std::uint64_t packet_count = 0;
  std::uint64_t byte_length = 0;
  Digest stream_params_digest{};
  // Empty when demuxing reached the end normally; otherwise why it stopped early (truncated/corrupt input).
  // The segment in progress at that moment is still emitted.
  std::string error;
};

// Returns false to stop segmenting (e.g. the recording was stopped).
using SegmentCallback = std::function<bool(const SegmentRecord&)>;

// Throws EvidenceError when the input cannot be opened at all or has no video stream.
SegmentationResult segment_media(const std::string& url, const SegmenterOptions& options,
                                 const SegmentCallback& on_segment);

// Reads the bytes to demux from `read` (returns the count, 0 at the end, <0 on error) instead of a URL:
// a recorder segments what it writes, from memory. `name` names the input in errors. Same segmentation.
using ReadBytes = std::function<int(std::uint8_t* buffer, int size)>;
SegmentationResult segment_stream(const ReadBytes& read, const std::string& name, const SegmenterOptions& options,
                                  const SegmentCallback& on_segment);

}  // namespace kuzet::hash
