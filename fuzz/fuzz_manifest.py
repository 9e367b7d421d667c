"""Coverage-guided fuzzing of the evidence manifest and exhibit parsers (atheris, from PyPI).

    pip install atheris
    PYTHONPATH=python python3 fuzz/fuzz_manifest.py -runs=200000 [-max_total_time=60] [corpus_dir]

The only acceptable outcome for any input is a parsed manifest or a ManifestError; anything else (another
exception, a crash in the native module) is a bug. tests/test_evidence_fuzz.py drives check_one() with
hypothesis on every test run, so the property is checked even where atheris is not installed.
"""

from __future__ import annotations

import json
import sys

from kuzet.evidence import ManifestError, generate_keypair, parse_manifest, verify_exhibit

_KEY = generate_keypair().public_key


def check_one(data: bytes) -> None:
    try:
        manifest = parse_manifest(data)
    except ManifestError:
        pass
    else:
        assert all(r.index == i for i, r in enumerate(manifest.records))
        for record in manifest.records:
            record.leaf_hash()  # whatever parses must also encode
    try:
        exhibit = json.loads(data)
    except (ValueError, RecursionError):
        return
    try:
        verify_exhibit(exhibit if isinstance(exhibit, dict) else {"not": exhibit}, public_keys=[_KEY])
    except ManifestError:
        pass


def main() -> None:
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, check_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
