"""`kuzet analyze SRC...`: faces and plates over many sources, results as JSON Lines, evidence manifests."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_SOURCE_FAILED = 1  # at least one source could not be read to its end; the others were analysed
EXIT_USAGE = 2


def _hotlist(values: list[str]) -> list[str] | None:
    """--hotlist takes plates, comma-separated, or @FILE with one plate a line."""
    plates: list[str] = []
    for value in values:
        if value.startswith("@"):
            lines = Path(value[1:]).read_text().splitlines()
            plates += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        else:
            plates += [p.strip() for p in value.split(",") if p.strip()]
    return plates or None


def _signing_key(args: argparse.Namespace) -> Any:
    from kuzet.evidence import generate_keypair, load_private_key, write_keypair

    if args.key:
        return load_private_key(args.key)
    key_path = Path(args.evidence) / "signing.key"
    if key_path.exists():
        return load_private_key(key_path)
    key = generate_keypair()
    Path(args.evidence).mkdir(parents=True, exist_ok=True)
    write_keypair(key, key_path, key_path.with_suffix(".pub"))
    print(f"note: no --key given; generated a signing key pair {key_path} / {key_path.with_suffix('.pub')}",
          file=sys.stderr)
    return key


def run(args: argparse.Namespace) -> int:
    from kuzet.commands.annotator import BestFrameAnnotator
    from kuzet.commands.progress import Progress
    from kuzet.commands.summary import RunSummary
    from kuzet.errors import KuzetError
    from kuzet.pipeline import JsonlWriter, Pipeline

    tasks = [t for t, on in (("faces", args.faces), ("plates", args.plates)) if on] or ["faces", "plates"]
    if args.evidence:
        tasks.append("evidence")
    annotator = BestFrameAnnotator(args.annotate) if args.annotate else None
    try:
        pipeline = Pipeline(
            tasks, device=args.device, model_dir=args.model_dir, watchlist=args.watchlist,
            hotlist=_hotlist(args.hotlist), plate_formats=[f for f in args.formats.split(",") if f],
            evidence_dir=args.evidence, signing_key=_signing_key(args) if args.evidence else None,
            max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, every_n=args.every, fps=args.fps,
            read_timeout=args.timeout, reconnect=args.reconnect, on_frame=annotator)
    except (KuzetError, OSError) as exc:
        print(f"kuzet analyze: {exc}", file=sys.stderr)
        return EXIT_USAGE
    summary = RunSummary()
    out = open(args.out, "w") if args.out else None  # noqa: SIM115 - closed in finally
    writer = JsonlWriter(out) if out else None
    progress = None if args.quiet else Progress(pipeline.metrics)
    start = time.monotonic()
    analysis_failed = False
    try:
        if progress:
            progress.start()
        for event in pipeline.run(args.sources):
            summary.add(event)
            if writer:
                writer.write(event)
    except KuzetError as exc:  # the analysis itself failed: every source was ended and told why (events)
        analysis_failed = True
        print(f"kuzet analyze: {exc}", file=sys.stderr)
    finally:
        if progress:
            progress.finish()
        if out:
            out.close()
    print(summary.render(time.monotonic() - start))
    if annotator:
        for path in annotator.write():
            print(f"annotated frame: {path}")
    if args.out:
        print(f"results: {args.out} ({summary.events} events)")
    if args.metrics:
        Path(args.metrics).write_text(pipeline.metrics.prometheus())
    failed = [name for name, end in summary.ends.items() if end["state"] != "finished"]
    return EXIT_SOURCE_FAILED if failed or analysis_failed else EXIT_OK


def add_subcommand(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze", help="find faces and plates in videos or live streams",
        description="Decode SOURCES (files, http(s) URLs of files, or live rtsp/rtmp/tcp/udp/srt URLs) "
                    "together, batch their frames through the face and plate pipelines, and report who and "
                    "which plates were seen when. Exit status: 0 all "
                    "sources read to the end, 1 some source failed (the others were analysed), 2 bad usage.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--faces", action="store_true", help="detect and identify faces (default: faces and plates)")
    p.add_argument("--plates", action="store_true", help="detect and read plates (default: faces and plates)")
    p.add_argument("--watchlist", help="watchlist file made with `kuzet enrol`")
    p.add_argument("--hotlist", action="append", default=[], metavar="PLATES",
                   help="wanted plates, comma-separated, or @FILE (one a line); repeatable")
    p.add_argument("--formats", default="", help="plate formats that resolve O/0-style confusions, e.g. uk,kz")
    p.add_argument("--out", help="write every event as JSON Lines to this file")
    p.add_argument("--evidence", metavar="DIR", help="seal each file source into a signed manifest in DIR, record each "
                   "live source's connections (DIR/SOURCE.N.ts + signed manifest, sealed as they run), and "
                   "tie every detection to the segment that covers it")
    p.add_argument("--key", help="Ed25519 private key for --evidence (default: DIR/signing.key, made if absent)")
    p.add_argument("--annotate", metavar="DIR", help="write each source's most telling frame with boxes drawn")
    p.add_argument("--metrics", metavar="FILE", help="write per-stage timings and counters (Prometheus text)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--model-dir", help="directory of the model files (default: $KUZET_MODEL_DIR, user cache)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="analyse every Nth frame of each source")
    p.add_argument("--fps", type=float, help="analyse about this many frames per second of each source")
    p.add_argument("--max-batch", type=int, default=16, help="frames per model batch (default 16)")
    p.add_argument("--max-wait-ms", type=float, default=50.0, help="longest wait for a batch to fill (ms)")
    p.add_argument("--timeout", type=float, default=10.0, help="read timeout of live sources (s)")
    p.add_argument("--reconnect", type=int, default=5, metavar="N",
                   help="reconnection attempts per outage of a live source, with backoff (default 5; 0: a live "
                   "source ends when its connection does)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)
