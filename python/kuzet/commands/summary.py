"""A readable account of a run: who and which plates were seen when, per source, and the evidence roots."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kuzet.pipeline import Event


@dataclass
class _Sighting:
    first: float
    last: float
    count: int = 0
    best: float = 0.0


@dataclass
class RunSummary:
    identities: dict[tuple[str, str], _Sighting] = field(default_factory=dict)
    unknown_faces: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    plates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # One line per manifest: a live source has one per connection.
    evidence: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    errors: list[tuple[str, str]] = field(default_factory=list)
    ends: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: int = 0

    def add(self, e: Event) -> None:
        self.events += 1
        if e.kind == "face":
            identity = e.data.get("identity")
            if not identity:
                self.unknown_faces[e.source] += 1
                return
            pts = e.pts or 0.0
            s = self.identities.setdefault((identity, e.source), _Sighting(pts, pts))
            s.first, s.last = min(s.first, pts), max(s.last, pts)
            s.count += 1
            s.best = max(s.best, float(e.data.get("similarity") or 0.0))
        elif e.kind == "plate":
            self.plates.append((e.source, e.data))
        elif e.kind == "evidence":
            self.evidence[e.source].append(
                f"root {e.data['root']} ({e.data['tree_size']} segments, {e.data['manifest']})")
        elif e.kind in ("source_error", "evidence_error"):
            self.errors.append((e.source, e.data.get("message", "")))
        elif e.kind == "source_end":
            self.ends[e.source] = e.data

    def render(self, elapsed: float) -> str:
        decoded = sum(int(d["decoded"]) for d in self.ends.values())
        analysed = sum(int(d["analysed"]) for d in self.ends.values())
        out = [f"kuzet analyze: {len(self.ends)} sources, {decoded} frames decoded, {analysed} analysed in "
               f"{elapsed:.1f} s ({decoded / max(elapsed, 1e-9):.1f} frames/s)", ""]
        out.append(f"  {'source':32} {'state':9} {'decoded':>8} {'analysed':>8} {'sampled':>8} {'dropped':>8}")
        for name, d in self.ends.items():
            out.append(f"  {name[:32]:32} {d['state']:9} {d['decoded']:>8} {d['analysed']:>8} "
                       f"{d['sampled_out']:>8} {d['dropped']:>8}")
        out += ["", "Watchlist matches:"]
        if not self.identities:
            out.append("  none")
        for (identity, source), s in sorted(self.identities.items(), key=lambda kv: kv[1].first):
            out.append(f"  {identity:24} in {source}: {s.first:.2f}-{s.last:.2f} s, {s.count} detections, "
                       f"best similarity {s.best:.2f}")
        unknown = sum(self.unknown_faces.values())
        if unknown:
            per = ", ".join(f"{n} in {src}" for src, n in self.unknown_faces.items())
            out.append(f"  faces not on the watchlist: {per}")
        out += ["", "Plates (one read per track):"]
        if not self.plates:
            out.append("  none")
        for source, p in sorted(self.plates, key=lambda sp: sp[1].get("first_pts", 0.0)):
            hit = p.get("hotlist")
            flag = f"  HOTLIST {hit['plate']} (distance {hit['distance']})" if hit else ""
            out.append(f"  {p['text'] or '?':10} in {source}: {p['first_pts']:.2f}-{p['last_pts']:.2f} s, "
                       f"{p['frames']} frames, confidence {p['confidence']:.2f}{flag}")
        if self.evidence:
            out += ["", "Evidence (signed manifests):"]
            out += [f"  {source}: {text}" for source, texts in self.evidence.items() for text in texts]
        if self.errors:
            out += ["", "Problems:"]
            out += [f"  {source}: {message}" for source, message in self.errors]
        return "\n".join(out)
