// kuzet._core bindings of the evidence capability: SHA-256, RFC 6962 Merkle trees and proofs, canonical
// segment records, the GOP segmenter and Ed25519. The Python layer is python/kuzet/evidence.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "bindings/bindings.hpp"
#include "bindings/python_errors.hpp"
#include "bindings/recording.hpp"
#include "hash/ed25519.hpp"
#include "hash/merkle.hpp"
#include "hash/segment_record.hpp"
#include "hash/segmenter.hpp"
#include "hash/sha256.hpp"

namespace py = pybind11;
using namespace kuzet::hash;

namespace kuzet::bindings {

namespace {

// Hash inputs this large are worth releasing the GIL for.
constexpr std::size_t kReleaseGilBytes = 64 * 1024;

py::bytes to_bytes(const Digest& d) { return py::bytes(reinterpret_cast<const char*>(d.data()), d.size()); }

// A digest argument; false when it is not exactly 32 bytes.
bool parse_digest(const py::bytes& b, Digest& out) {
  const std::string_view s = b;
  if (s.size() != out.size()) return false;
  std::copy(s.begin(), s.end(), out.begin());
  return true;
}

Digest require_digest(const py::bytes& b, const char* what) {
  Digest d{};
  if (!parse_digest(b, d)) throw InvalidArgument(std::string(what) + " must be a 32-byte SHA-256 digest");
  return d;
}

bool parse_digests(const std::vector<py::bytes>& list, std::vector<Digest>& out) {
  out.resize(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!parse_digest(list[i], out[i])) return false;
  }
  return true;
}

std::vector<Digest> require_digests(const std::vector<py::bytes>& list, const char* what) {
  std::vector<Digest> out;
  if (!parse_digests(list, out)) throw InvalidArgument(std::string(what) + " must all be 32-byte SHA-256 digests");
  return out;
}

py::list to_list(const std::vector<Digest>& ds) {
  py::list l;
  for (const auto& d : ds) l.append(to_bytes(d));
  return l;
}

// A contiguous read-only view of any bytes-like object (bytes, bytearray, memoryview, numpy array).
struct ByteView {
  py::buffer_info info;
  explicit ByteView(const py::buffer& b) : info(b.request()) {
    if (!PyBuffer_IsContiguous(info.view(), 'C') && info.size > 0) {
      throw InvalidArgument("the data must be a contiguous bytes-like object");
    }
  }
  const void* data() const { return info.ptr; }
  std::size_t size() const { return static_cast<std::size_t>(info.size * info.itemsize); }
};

py::object timestamp_to_py(std::int64_t ts) { return ts == kNoTimestamp ? py::none() : py::object(py::int_(ts)); }

std::int64_t timestamp_from_py(const py::handle& h) { return h.is_none() ? kNoTimestamp : h.cast<std::int64_t>(); }

py::dict record_to_dict(const SegmentRecord& r) {
  py::dict d;
  d["index"] = r.index;
  d["start_pts"] = timestamp_to_py(r.start_pts);
  d["end_pts"] = timestamp_to_py(r.end_pts);
  d["time_base"] = py::make_tuple(r.time_base_num, r.time_base_den);
  d["packet_count"] = r.packet_count;
  d["byte_length"] = r.byte_length;
  d["payload_digest"] = to_bytes(r.payload_digest);
  d["timing_digest"] = to_bytes(r.timing_digest);
  d["stream_params_digest"] = to_bytes(r.stream_params_digest);
  d["metadata"] = r.metadata;
  return d;
}

SegmentRecord record_from_dict(const py::dict& d) {
  SegmentRecord r;
  r.index = d["index"].cast<std::uint64_t>();
  r.start_pts = timestamp_from_py(d["start_pts"]);
  r.end_pts = timestamp_from_py(d["end_pts"]);
  const auto tb = d["time_base"].cast<std::pair<std::int32_t, std::int32_t>>();
  r.time_base_num = tb.first;
  r.time_base_den = tb.second;
  r.packet_count = d["packet_count"].cast<std::uint64_t>();
  r.byte_length = d["byte_length"].cast<std::uint64_t>();
  r.payload_digest = require_digest(d["payload_digest"].cast<py::bytes>(), "payload_digest");
  r.timing_digest = require_digest(d["timing_digest"].cast<py::bytes>(), "timing_digest");
  r.stream_params_digest = require_digest(d["stream_params_digest"].cast<py::bytes>(), "stream_params_digest");
  r.metadata = d["metadata"].cast<std::map<std::string, std::string>>();
  return r;
}

py::dict segment(const std::string& url, double target_duration_s, const std::optional<py::function>& on_segment,
                 const std::string& input_format, int stream_params_version) {
  SegmenterOptions options;
  options.target_duration_s = target_duration_s;
  options.input_format = input_format;
  options.stream_params_version = stream_params_version;
  std::vector<SegmentRecord> collected;
  SegmentCallback callback;
  if (on_segment) {
    const py::function& fn = *on_segment;
    callback = [&fn](const SegmentRecord& r) {
      py::gil_scoped_acquire gil;
      py::object verdict = fn(record_to_dict(r));
      return verdict.is_none() || verdict.cast<bool>();
    };
  } else {
    callback = [&collected](const SegmentRecord& r) {
      collected.push_back(r);
      return true;
    };
  }
  // Ctrl-C (or any Python signal handler that raises) stops a segmenter blocked on a live source. Signals
  // are only handled on the main thread, so only there is it polled. The exception is taken off the thread
  // state at once (on_segment may still run for the open segment) and re-raised at the end.
  std::optional<py::error_already_set> signal_error;
  const auto threading = py::module_::import("threading");
  if (threading.attr("current_thread")().is(threading.attr("main_thread")())) {
    options.should_interrupt = [&signal_error]() {
      if (signal_error) return true;
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) signal_error.emplace();
      return signal_error.has_value();
    };
  }
  SegmentationResult result;
  try {
    py::gil_scoped_release release;
    result = segment_media(url, options, callback);
  } catch (const SegmentationInterrupted&) {
    if (signal_error) throw *signal_error;  // e.g. KeyboardInterrupt
    throw;
  }
  py::list segments;
  for (const auto& r : collected) segments.append(record_to_dict(r));
  py::dict d;
  d["segments"] = segments;
  d["segment_count"] = result.segment_count;
  d["packet_count"] = result.packet_count;
  d["byte_length"] = result.byte_length;
  d["stream_params_digest"] = to_bytes(result.stream_params_digest);
  d["error"] = result.error.empty() ? py::none() : py::object(py::str(result.error));
  return d;
}

}  // namespace

py::dict segment_record_dict(const SegmentRecord& r) { return record_to_dict(r); }

void bind_hash(py::module_& m) {
  raise_as_python_error<EvidenceError>("EvidenceError", "kuzet.evidence.errors");
  raise_as_python_error<KeyFormatError>("KeyFormatError", "kuzet.evidence.errors");
  raise_as_python_error<SegmentationInterrupted>("SegmentationInterrupted", "kuzet.evidence.errors");

  // --- SHA-256 ---
  m.def(
      "sha256",
      [](const py::buffer& data) {
        ByteView view(data);
        if (view.size() < kReleaseGilBytes) return to_bytes(sha256(view.data(), view.size()));
        Digest d;
        {
          py::gil_scoped_release release;
          d = sha256(view.data(), view.size());
        }
        return to_bytes(d);
      },
      py::arg("data"), "SHA-256 of a bytes-like object (OpenSSL EVP).");

  py::class_<Sha256>(m, "Sha256", "Incremental SHA-256 (OpenSSL EVP).")
      .def(py::init<>())
      .def(
          "update",
          [](Sha256& self, const py::buffer& data) {
            ByteView view(data);
            if (view.size() < kReleaseGilBytes) return self.update(view.data(), view.size());
            py::gil_scoped_release release;
            self.update(view.data(), view.size());
          },
          py::arg("data"))
      .def(
          "finish", [](Sha256& self) { return to_bytes(self.finish()); },
          "Returns the digest and resets the hasher for the next message.");

  // --- RFC 6962 Merkle trees ---
  m.def(
      "leaf_hash",
      [](const py::buffer& data) {
        ByteView view(data);
        return to_bytes(leaf_hash(view.data(), view.size()));
      },
      py::arg("data"), "RFC 6962 leaf hash: SHA256(0x00 || data).");
  m.def(
      "node_hash",
      [](const py::bytes& left, const py::bytes& right) {
        Digest l{}, r{};
        if (parse_digest(left, l) && parse_digest(right, r)) return to_bytes(node_hash(l, r));
        // RFC 6962 defines the node hash over any byte strings; trees only ever pass 32-byte children.
        Sha256 h;
        const std::uint8_t prefix = 0x01;
        const std::string_view a = left, b = right;
        h.update(&prefix, 1);
        h.update(a.data(), a.size());
        h.update(b.data(), b.size());
        return to_bytes(h.finish());
      },
      py::arg("left"), py::arg("right"), "RFC 6962 interior node hash: SHA256(0x01 || left || right).");
  m.def("empty_tree_root", []() { return to_bytes(empty_tree_root()); });
  m.def(
      "merkle_root",
      [](const std::vector<py::bytes>& leaves, std::optional<std::uint64_t> tree_size) {
        auto ds = require_digests(leaves, "leaf hashes");
        Digest root;
        {
          py::gil_scoped_release release;
          root = tree_root(ds, tree_size.value_or(ds.size()));
        }
        return to_bytes(root);
      },
      py::arg("leaf_hashes"), py::arg("tree_size") = py::none(),
      "RFC 6962 Merkle tree hash of the first tree_size leaf hashes (all by default).");
  m.def(
      "inclusion_proof",
      [](const std::vector<py::bytes>& leaves, std::uint64_t index, std::optional<std::uint64_t> tree_size) {
        auto ds = require_digests(leaves, "leaf hashes");
        return to_list(inclusion_proof(ds, index, tree_size.value_or(ds.size())));
      },
      py::arg("leaf_hashes"), py::arg("index"), py::arg("tree_size") = py::none(),
      "RFC 6962 inclusion proof (audit path) of leaf index in the tree of tree_size leaves.");
  m.def(
      "consistency_proof",
      [](const std::vector<py::bytes>& leaves, std::uint64_t size1, std::optional<std::uint64_t> size2) {
        auto ds = require_digests(leaves, "leaf hashes");
        return to_list(consistency_proof(ds, size1, size2.value_or(ds.size())));
      },
      py::arg("leaf_hashes"), py::arg("size1"), py::arg("size2") = py::none(),
      "RFC 6962 consistency proof between the trees of size1 and size2 leaves.");
  m.def(
      "verify_inclusion",
      [](const py::bytes& leaf, std::uint64_t index, std::uint64_t tree_size, const std::vector<py::bytes>& proof,
         const py::bytes& root) {
        Digest l{}, r{};
        std::vector<Digest> p;
        if (!parse_digest(leaf, l) || !parse_digest(root, r) || !parse_digests(proof, p)) return false;
        return verify_inclusion(l, index, tree_size, p, r);
      },
      py::arg("leaf_hash"), py::arg("index"), py::arg("tree_size"), py::arg("proof"), py::arg("root"),
      "True when proof shows leaf_hash at index in the tree of tree_size leaves with this root (RFC 9162).");
  m.def(
      "verify_consistency",
      [](std::uint64_t size1, std::uint64_t size2, const std::vector<py::bytes>& proof, const py::bytes& root1,
         const py::bytes& root2) {
        // Equal sizes: nothing to prove beyond equal roots, compared as given (as transparency-dev does).
        if (size1 == size2) return size1 != 0 && proof.empty() && std::string_view(root1) == std::string_view(root2);
        Digest r1{}, r2{};
        std::vector<Digest> p;
        if (!parse_digest(root1, r1) || !parse_digest(root2, r2) || !parse_digests(proof, p)) return false;
        return verify_consistency(size1, size2, p, r1, r2);
      },
      py::arg("size1"), py::arg("size2"), py::arg("proof"), py::arg("root1"), py::arg("root2"),
      "True when proof shows the size1 tree (root1) is a prefix of the size2 tree (root2) (RFC 9162).");

  // --- Segment records and the segmenter ---
  m.def(
      "encode_segment_record", [](const py::dict& record) {
        const std::string s = encode_segment_record(record_from_dict(record));
        return py::bytes(s);
      },
      py::arg("record"), "Canonical kuzet.segment.v1 encoding of a segment record dict.");
  m.attr("SEGMENT_RECORD_TAG") = kSegmentRecordTag;
  m.attr("STREAM_PARAMS_VERSION") = kStreamParamsVersion;
  m.def("segment_media", &segment, py::arg("url"), py::kw_only(), py::arg("target_duration_s") = 2.0,
        py::arg("on_segment") = py::none(), py::arg("input_format") = "",
        py::arg("stream_params_version") = kStreamParamsVersion,
        "Demuxes url (no decoding) into GOP-aligned segments and hashes their packets. With on_segment, "
        "each record dict is passed to it as the segment closes (return False to stop); otherwise the "
        "records are returned in 'segments'. Releases the GIL while demuxing.");

  // --- Ed25519 ---
  m.def("ed25519_generate", []() {
    const auto kp = generate_ed25519_keypair();
    return py::make_tuple(kp.private_pem, kp.public_pem);
  }, "New Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM).");
  m.def("ed25519_public_pem", &ed25519_public_pem, py::arg("private_pem"));
  m.def(
      "ed25519_raw_public_key",
      [](const std::string& pem) {
        const auto raw = ed25519_raw_public_key(pem);
        return py::bytes(reinterpret_cast<const char*>(raw.data()), raw.size());
      },
      py::arg("public_pem"));
  m.def(
      "ed25519_sign",
      [](const std::string& pem, const py::bytes& message) { return py::bytes(ed25519_sign(pem, message)); },
      py::arg("private_pem"), py::arg("message"));
  m.def(
      "ed25519_verify",
      [](const std::string& pem, const py::bytes& message, const py::bytes& signature) {
        return ed25519_verify(pem, message, signature);
      },
      py::arg("public_pem"), py::arg("message"), py::arg("signature"));
}

}  // namespace kuzet::bindings
