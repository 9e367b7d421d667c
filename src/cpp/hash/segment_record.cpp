#include "hash/segment_record.hpp"

#include <cstring>
#include <limits>

#include "common/errors.hpp"

namespace kuzet::hash {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }

void put_digest(std::string& out, const Digest& d) { out.append(reinterpret_cast<const char*>(d.data()), d.size()); }

void put_bytes(std::string& out, const std::string& s) {
  if (s.size() > std::numeric_limits<std::uint32_t>::max()) throw InvalidArgument("metadata entry too long");
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

}  // namespace

std::string encode_segment_record(const SegmentRecord& r) {
  std::string out;
  out.reserve(256);
  out.append(kSegmentRecordTag, std::strlen(kSegmentRecordTag));  // 16 bytes, no terminator
  put_u64(out, r.index);
  put_i64(out, r.start_pts);
  put_i64(out, r.end_pts);
  put_u32(out, static_cast<std::uint32_t>(r.time_base_num));
  put_u32(out, static_cast<std::uint32_t>(r.time_base_den));
  put_u64(out, r.packet_count);
  put_u64(out, r.byte_length);
  put_digest(out, r.payload_digest);
  put_digest(out, r.timing_digest);
  put_digest(out, r.stream_params_digest);
  put_u32(out, static_cast<std::uint32_t>(r.metadata.size()));
  for (const auto& [key, value] : r.metadata) {  // std::map iterates in bytewise key order
    put_bytes(out, key);
    put_bytes(out, value);
  }
  return out;
}

}  // namespace kuzet::hash
