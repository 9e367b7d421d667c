"""EvidenceLog: append segments of a live recording as they close, checkpointing a signed manifest."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from kuzet._native import core
from kuzet.evidence.errors import EvidenceError
from kuzet.evidence.keys import PrivateKey
from kuzet.evidence.manifest import Manifest, build_manifest, load_manifest, record_text
from kuzet.evidence.records import SegmentRecord, signed_target_duration, stream_segments
from kuzet.evidence.tree_head import find_signer

SegmentMetadata = Callable[[SegmentRecord], Mapping[str, str]]


class EvidenceLog:
    """An append-only, signed segment log for one recording.

    After every append the whole signed manifest is rewritten atomically (temp file, fsync, rename, fsync
    of the directory), so after a power cut the file on disk is the last complete checkpoint: at most the
    segment in progress is lost. The cost is O(segments) per append (about 0.5 KB per segment written; each
    record is serialised once and its text kept, so a day of 2 s segments costs tens of ms per append)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        private_key: PrivateKey,
        log_id: str,
        target_duration_s: float = 2.0,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Starts a new log at path. Refuses to overwrite an existing file (use EvidenceLog.resume)."""
        self._path = Path(path)
        if self._path.exists():
            raise EvidenceError(f"'{self._path}' already exists: resume it with EvidenceLog.resume()")
        self._key = private_key
        self._log_id = log_id
        self._target_duration_s = signed_target_duration(target_duration_s)
        self._metadata = dict(metadata or {})
        self._records: list[SegmentRecord] = []
        self._leaves: list[bytes] = []
        self._texts: list[str] = []  # each record as the manifest file holds it
        self._stream_params_version: int = core.STREAM_PARAMS_VERSION
        self._manifest = self._checkpoint()

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        *,
        private_key: PrivateKey,
        metadata: Mapping[str, str] | None = None,
    ) -> EvidenceLog:
        """Continues an existing log after checking it was signed by this key and its tree is intact."""
        from kuzet.evidence.verify import check_tree

        manifest = load_manifest(path)
        if find_signer(manifest.tree_head, manifest.signature, [private_key.public_key]) is None:
            raise EvidenceError(f"'{os.fspath(path)}' was not signed by this key; refusing to extend it")
        if not check_tree(manifest):
            raise EvidenceError(f"'{os.fspath(path)}': segments do not hash to the signed root")
        log = cls.__new__(cls)
        log._path = Path(path)
        log._key = private_key
        log._log_id = manifest.tree_head.log_id
        log._target_duration_s = manifest.target_duration_s
        log._metadata = dict(metadata or {})
        log._records = list(manifest.records)
        log._leaves = manifest.leaf_hashes()
        log._texts = [record_text(r) for r in log._records]
        log._stream_params_version = manifest.stream_params_version  # appended segments are hashed alike
        log._manifest = manifest
        return log

    @property
    def manifest(self) -> Manifest:
        """The last written checkpoint."""
        return self._manifest

    @property
    def tree_size(self) -> int:
        return len(self._records)

    def append(self, record: SegmentRecord, metadata: Mapping[str, str] | None = None) -> Manifest:
        """Appends the next segment (its index is set to the log's size) and writes the signed checkpoint."""
        merged = {**self._metadata, **record.metadata, **(metadata or {})}
        record = replace(record, index=len(self._records), metadata=merged)
        self._records.append(record)
        self._leaves.append(record.leaf_hash())
        self._texts.append(record_text(record))
        try:
            self._manifest = self._checkpoint()
        except Exception:
            self._records.pop()
            self._leaves.pop()
            self._texts.pop()
            raise
        return self._manifest

    def record(
        self,
        source: str | os.PathLike[str],
        *,
        input_format: str | None = None,
        segment_metadata: SegmentMetadata | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> str | None:
        """Segments a live source (FIFO, pipe:, URL or file) and appends each segment as it closes.

        Returns None at the end of the stream, else why demuxing stopped early. A signal (Ctrl-C) stops a
        source that blocks: the segment in progress is appended first, then KeyboardInterrupt propagates."""

        def on_segment(rec: SegmentRecord) -> bool:
            self.append(rec, segment_metadata(rec) if segment_metadata else None)
            return not (should_stop and should_stop())

        return stream_segments(
            source, on_segment, target_duration_s=self._target_duration_s, input_format=input_format,
            stream_params_version=self._stream_params_version,
        )

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 proof that the checkpoint of old_size segments is a prefix of the current one."""
        return [bytes(h) for h in core.consistency_proof(self._leaves, old_size)]

    def _checkpoint(self) -> Manifest:
        manifest = build_manifest(
            self._records, self._key, log_id=self._log_id, target_duration_s=self._target_duration_s,
            leaf_hashes=self._leaves, stream_params_version=self._stream_params_version,
        )
        manifest.write(self._path, self._texts)
        return manifest
