"""A plain per-frame Python plate reader with the same models, the baseline of bench_plates.py.

onnxruntime per frame and per plate, OpenCV/numpy pre- and post-processing, the same geometry and
decoding rules as kuzet's pipeline (letterbox, score = obj * max(class), NMS 0.5, perspective warp with
the same side margin and width rounding, CTC restricted to plate characters), so results can be compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

PLATE_CHARACTERS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MARGIN = 0.03


class ReferencePlateReader:
    """`rewritten=True` (a breakdown of the benchmark, not how a plain reader runs): the recogniser runs the
    graph kuzet's loader makes of the same file (kuzet/models/fusion.py), to tell that gain from the rest."""

    def __init__(self, model_dir: Path, threads: int | None = None, *, rewritten: bool = False):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        cpu = ["CPUExecutionProvider"]
        self.det = ort.InferenceSession(str(model_dir / "plate_detection/hyperlpr3_y5fu_320x.onnx"), options,
                                        providers=cpu)
        rec: str | bytes = str(model_dir / "plate_ocr/ppocrv4_ch_rec.onnx")
        if rewritten:
            from kuzet.models.fusion import rewritten_model

            rec = rewritten_model(rec)
        self.rec = ort.InferenceSession(rec, options, providers=cpu)
        lines = (model_dir / "plate_ocr/ppocrv4_ch_dict.txt").read_text(encoding="utf-8").splitlines()
        self.alphabet = ["", *lines, " "]
        self.allowed = np.array([c in PLATE_CHARACTERS for c in self.alphabet])
        self.allowed[0] = True

    def detect(self, rgb: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
        h, w = rgb.shape[:2]
        s = min(320 / h, 320 / w)
        nh, nw = round(h * s), round(w * s)
        px, py = (320 - nw) / 2, (320 - nh) / 2
        canvas = np.zeros((320, 320, 3), np.float32)
        canvas[int(py) : int(py) + nh, int(px) : int(px) + nw] = cv2.resize(rgb, (nw, nh)) / np.float32(255)
        out = self.det.run(None, {"input": canvas.transpose(2, 0, 1)[None]})[0][0]
        scores = out[:, 4] * out[:, 13:15].max(1)
        keep = np.flatnonzero(scores >= 0.5)
        cx, cy, bw, bh = out[keep, 0], out[keep, 1], out[keep, 2], out[keep, 3]
        sx, sy = nw / w, nh / h
        boxes = np.stack([(cx - bw / 2 - int(px)) / sx, (cy - bh / 2 - int(py)) / sy,
                          (cx + bw / 2 - int(px)) / sx, (cy + bh / 2 - int(py)) / sy], 1)
        corners = (out[keep, 5:13].reshape(-1, 4, 2) - [int(px), int(py)]) / [sx, sy]
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores[keep].tolist(), 0.5, 0.5)
        return [(boxes[i], corners[i], float(scores[keep][i]), int(out[keep[i], 13:15].argmax()))
                for i in np.array(kept).reshape(-1)]

    def warp(self, rgb: np.ndarray, quad: np.ndarray, v0: float, v1: float) -> np.ndarray:
        tl, tr, br, bl = quad
        aspect = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / (np.linalg.norm(bl - tl) +
                                                                         np.linalg.norm(br - tr))
        w = int(np.clip(round(aspect * (1 + 2 * MARGIN) / (v1 - v0) * 48 / 8) * 8, 8, 320))
        # The band [v0, v1] of the plate, widened by MARGIN each side, onto a w x 48 crop.
        dst = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, 47.5], [-0.5, 47.5]])
        unit = cv2.getPerspectiveTransform(np.float32([[0, 0], [1, 0], [1, 1], [0, 1]]), quad.astype(np.float32))
        band = np.array([[1 + 2 * MARGIN, 0, -MARGIN], [0, v1 - v0, v0], [0, 0, 1]])
        to_unit = cv2.getPerspectiveTransform(dst, np.float32([[0, 0], [1, 0], [1, 1], [0, 1]]))
        matrix = unit @ band @ to_unit
        return cv2.warpPerspective(rgb, matrix, (w, 48), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)

    def read(self, crop_rgb: np.ndarray) -> tuple[str, list[float]]:
        x = (cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR).astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        probs = self.rec.run(None, {"x": np.ascontiguousarray(x)})[0][0]
        probs = np.where(self.allowed, probs, -1.0)
        best = probs.argmax(1)
        text, confs, prev = [], [], 0
        for t, k in enumerate(best):
            if k and k == prev:
                confs[-1] = max(confs[-1], float(probs[t, k]))
            elif k:
                text.append(self.alphabet[k])
                confs.append(float(probs[t, k]))
            prev = k
        return "".join(text), confs

    def process(self, rgb: np.ndarray) -> list[str]:
        texts = []
        for _, quad, _, cls in self.detect(rgb):
            if cls == 1:  # double row: keep the confident lines
                parts = [self.read(self.warp(rgb, quad, *band)) for band in ((0.0, 0.42), (0.33, 1.0))]
                good = [p for p in parts if p[0] and sum(p[1]) / len(p[1]) >= 0.6] or parts
                texts.append("".join(p[0] for p in good))
            else:
                texts.append(self.read(self.warp(rgb, quad, 0.0, 1.0))[0])
        return texts
