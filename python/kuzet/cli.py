"""Command line: `kuzet <command> ...` (also `python -m kuzet`). Each command lives in its own module."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    from kuzet._info import build_info, format_build_info

    print(format_build_info(build_info()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kuzet", description="kuzet video inference core")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions, CUDA/NVDEC availability, ONNX Runtime providers")
    p.set_defaults(func=_cmd_info)
    __import__("kuzet.evidence.cli", fromlist=["add_subcommands"]).add_subcommands(sub)
    from kuzet.commands import analyze, bench, enrol

    analyze.add_subcommand(sub)
    enrol.add_subcommand(sub)
    bench.add_subcommand(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # library warnings (e.g. a CPU fallback) appear once each as a short note, not with source lines
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        original_format = warnings.formatwarning
        warnings.formatwarning = lambda message, *a, **k: f"note: {message}\n"
        try:
            return int(args.func(args))
        finally:
            warnings.formatwarning = original_format


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
