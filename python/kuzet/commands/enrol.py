"""`kuzet enrol WATCHLIST NAME IMAGE...`: add an identity's face(s) to a watchlist file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1


def run(args: argparse.Namespace) -> int:
    from kuzet.errors import KuzetError
    from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
    from kuzet.images import read_image

    try:
        embedder = FaceEmbedder(args.model, model_dir=args.model_dir, device=args.device)
        watchlist = Watchlist(args.watchlist, model_id=embedder.model_id)
        pipeline = FacePipeline(detector=FaceDetector(model_dir=args.model_dir, device=args.device),
                                embedder=embedder, watchlist=watchlist)
        images = [read_image(path) for path in args.images]
        count = pipeline.enrol(args.name, images)
    except (KuzetError, OSError) as exc:
        print(f"kuzet enrol: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"enrolled {count} face(s) of {args.name!r} into {args.watchlist} "
          f"({len(watchlist.identities)} identities, model {watchlist.model_id})")
    return EXIT_OK


def add_subcommand(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "enrol", help="add a person's face images to a watchlist",
        description="Detect the largest face in each IMAGE, embed it and store it under NAME in the WATCHLIST "
                    "file (SQLite; created if absent). A watchlist keeps the embedding model's id and refuses "
                    "another model's embeddings. Exit status 0 on success, 1 if an image has no face or "
                    "cannot be read (nothing is enrolled then).")
    p.add_argument("watchlist")
    p.add_argument("name")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", default="mobileface_v2", help="face embedding model (default mobileface_v2)")
    p.add_argument("--model-dir", help="directory of the model files (default: $KUZET_MODEL_DIR, user cache)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)
