// Decode errors, one type per problem a caller may want to handle differently. Each maps to a Python
// subclass of kuzet.DecodeError (see bindings/bind_decode.cpp); messages always name the source.
#pragma once
#include <string>

#include "common/errors.hpp"

namespace kuzet::decode {

struct DecodeError : Error {
  using Error::Error;
};
// The path does not exist, or the URL cannot be reached.
struct SourceNotFound : DecodeError {
  using DecodeError::DecodeError;
};
// Not a media file, or a media file without a video stream.
struct NotAVideo : DecodeError {
  using DecodeError::DecodeError;
};
// The video stream uses a codec this FFmpeg build cannot decode.
struct UnsupportedCodec : DecodeError {
  using DecodeError::DecodeError;
};
// The bitstream or container is damaged (with errors="raise", also a single corrupt frame).
struct CorruptStream : DecodeError {
  using DecodeError::DecodeError;
};
// The stream is encrypted (CENC/cbcs) and cannot be decoded without keys.
struct EncryptedStream : DecodeError {
  using DecodeError::DecodeError;
};
// A network source delivered no data before its deadline.
struct StreamTimeout : DecodeError {
  using DecodeError::DecodeError;
};
// The requested decode device (e.g. CUDA/NVDEC) is not available in this build or on this machine.
struct DeviceUnavailable : DecodeError {
  using DecodeError::DecodeError;
};

// FFmpeg's text for an AVERROR code.
std::string av_error_text(int code);

}  // namespace kuzet::decode
