"""`kuzet keys`, `seal`, `verify`, `exhibit`, `verify-exhibit` and `verify-consistency`.

Exit codes of verify / verify-exhibit / verify-consistency: 0 ok, 1 tampered (recording differs from the
manifest), 2 bad signature or bad tree (the manifest is not what a trusted key signed), 3 malformed
manifest, 4 usage or I/O error (missing file, unreadable key)."""

from __future__ import annotations

import argparse
import json
import sys
import types
from typing import Any, NoReturn

from kuzet.errors import InvalidArgument
from kuzet.evidence.errors import EvidenceError, KeyFormatError, ManifestError
from kuzet.evidence.exhibit import consistency_proof, make_exhibit, verify_consistency, verify_exhibit
from kuzet.evidence.keys import generate_keypair, load_private_key, load_public_key, write_keypair
from kuzet.evidence.manifest import atomic_write_text, load_manifest
from kuzet.evidence.seal import seal
from kuzet.evidence.tree_head import find_signer
from kuzet.evidence.verify import (
    EXIT_BAD_MANIFEST,
    EXIT_BAD_SIGNATURE,
    EXIT_OK,
    EXIT_USAGE,
    check_tree,
    verify,
)


def _usage_error(self: argparse.ArgumentParser, message: str) -> NoReturn:
    self.print_usage(sys.stderr)
    self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser(subparsers: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(name, **kwargs)
    p.error = types.MethodType(_usage_error, p)  # type: ignore[method-assign]  # usage errors exit 4, not 2
    return p


def _fail(code: int, message: str) -> int:
    print(f"kuzet: {message}", file=sys.stderr)
    return code


def _run(func: Any, args: argparse.Namespace) -> int:
    """Maps evidence errors to the documented exit codes."""
    try:
        return int(func(args))
    except ManifestError as exc:
        return _fail(EXIT_BAD_MANIFEST, f"bad manifest: {exc}")
    except (KeyFormatError, EvidenceError, InvalidArgument, OSError) as exc:
        return _fail(EXIT_USAGE, str(exc))


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    key = generate_keypair()
    write_keypair(key, f"{args.out}.key", f"{args.out}.pub")
    print(f"wrote {args.out}.key (private, 0600) and {args.out}.pub; key id {key.public_key.key_id}")
    return EXIT_OK


def _cmd_keys_public(args: argparse.Namespace) -> int:
    key = load_private_key(args.private_key)
    sys.stdout.write(key.public_key.pem)
    return EXIT_OK


def _parse_metadata(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise EvidenceError(f"--meta expects KEY=VALUE, got {item!r}")
        out[name] = value
    return out


def _cmd_seal(args: argparse.Namespace) -> int:
    manifest = seal(
        args.video,
        private_key=load_private_key(args.key),
        log_id=args.log_id,
        target_duration_s=args.segment_seconds,
        metadata=_parse_metadata(args.meta),
    )
    manifest.write(args.out)
    print(f"sealed {manifest.tree_head.tree_size} segments, root {manifest.tree_head.root_hash.hex()}")
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    keys = [load_public_key(path) for path in args.key]
    report = verify(args.video, manifest=args.manifest, public_keys=keys)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
    return report.exit_code


def _cmd_exhibit(args: argparse.Namespace) -> int:
    exhibit = make_exhibit(load_manifest(args.manifest), args.segment)
    atomic_write_text(args.out, json.dumps(exhibit, indent=1) + "\n")
    print(f"wrote exhibit for segment {args.segment} to {args.out}")
    return EXIT_OK


def _cmd_verify_exhibit(args: argparse.Namespace) -> int:
    report = verify_exhibit(args.exhibit, public_keys=[load_public_key(path) for path in args.key])
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "signature_valid": report.signature_valid,
                    "signer_key_id": report.signer_key_id,
                    "inclusion_valid": report.inclusion_valid,
                    "segment": report.segment.to_json(),
                    "tree_head": report.tree_head.to_json(),
                },
                indent=2,
            )
        )
    else:
        state = "OK" if report.ok else "BAD"
        print(
            f"{state}: segment {report.segment.index} of {report.tree_head.tree_size} "
            f"(signature {'valid' if report.signature_valid else 'NOT by a trusted key'}, "
            f"inclusion {'valid' if report.inclusion_valid else 'INVALID'})"
        )
    return EXIT_OK if report.ok else EXIT_BAD_SIGNATURE


def _cmd_verify_consistency(args: argparse.Namespace) -> int:
    """An earlier checkpoint must be a prefix of a later one, both signed by trusted keys."""
    keys = [load_public_key(path) for path in args.key]
    old, new = load_manifest(args.old), load_manifest(args.new)
    signed = all(find_signer(m.tree_head, m.signature, keys) for m in (old, new))
    trees = check_tree(old) and check_tree(new)
    size = old.tree_head.tree_size
    a, b = old.tree_head, new.tree_head
    # Two checkpoints of one recording: same log and segmenting, and the later one not dated before the earlier.
    same_log = (a.log_id, a.target_duration_us) == (b.log_id, b.target_duration_us) and a.timestamp_ms <= b.timestamp_ms
    prefix = trees and same_log and (
        size == 0
        or (
            0 < size <= new.tree_head.tree_size
            and verify_consistency(old.tree_head, new.tree_head, consistency_proof(new, size))
        )
    )
    ok = signed and trees and prefix
    print(
        f"{'OK' if ok else 'BAD'}: {size} -> {new.tree_head.tree_size} segments of {b.log_id!r} (signatures "
        f"{'valid' if signed else 'NOT by trusted keys'}, trees {'valid' if trees else 'INVALID'}, "
        f"{'same log' if same_log else 'NOT the same log (log id, segment duration or time order differ)'}, "
        f"prefix {'proven' if prefix else 'NOT proven'})"
    )
    return EXIT_OK if ok else EXIT_BAD_SIGNATURE


def add_subcommands(subparsers: Any) -> None:
    keys = _parser(subparsers, "keys", help="Ed25519 signing keys for evidence manifests")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    p = _parser(keys_sub, "generate", help="write PREFIX.key (private) and PREFIX.pub")
    p.add_argument("--out", required=True, metavar="PREFIX")
    p.set_defaults(func=lambda a: _run(_cmd_keys_generate, a))
    p = _parser(keys_sub, "public", help="print the public key of a private key")
    p.add_argument("private_key")
    p.set_defaults(func=lambda a: _run(_cmd_keys_public, a))

    p = _parser(subparsers, "seal", help="segment a recording and write its signed manifest")
    p.add_argument("video")
    p.add_argument("--key", required=True, help="private key (PEM)")
    p.add_argument("--out", required=True, help="manifest path to write")
    p.add_argument("--segment-seconds", type=float, default=2.0, help="target segment duration (default 2)")
    p.add_argument(
        "--log-id", default=None, help="recording identity in the signed head (default: file name)"
    )
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata in each record")
    p.set_defaults(func=lambda a: _run(_cmd_seal, a))

    p = _parser(
        subparsers,
        "verify",
        help="check a recording against its signed manifest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video")
    p.add_argument("--manifest", required=True)
    p.add_argument("--key", required=True, action="append", help="trusted public key (PEM); repeatable")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=lambda a: _run(_cmd_verify, a))

    p = _parser(subparsers, "exhibit", help="export one segment's inclusion proof as a standalone exhibit")
    p.add_argument("manifest")
    p.add_argument("--segment", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=lambda a: _run(_cmd_exhibit, a))

    p = _parser(
        subparsers, "verify-consistency", help="check that an earlier checkpoint is a prefix of a later one"
    )
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--key", required=True, action="append", help="trusted public key (PEM); repeatable")
    p.set_defaults(func=lambda a: _run(_cmd_verify_consistency, a))

    p = _parser(subparsers, "verify-exhibit", help="check an exhibit with trusted public keys")
    p.add_argument("exhibit")
    p.add_argument("--key", required=True, action="append", help="trusted public key (PEM); repeatable")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _run(_cmd_verify_exhibit, a))


__all__ = ["add_subcommands", "EXIT_BAD_SIGNATURE"]
