"""Two-row plates: a real plate (LS15EBC, UK clip frame 120) rearranged as a UK motorcycle-style plate, "LS15"
above "EBC", is read as one plate only when its detection says double row (the split into lines is what
reads it: as one line the recogniser sees "LS"). The detector (HyperLPR3) is trained on Chinese two-row
plates, so the detection is given here; the real-detector double-row case is car3.jpg in test_plates_real."""

import cv2
import numpy as np
import pytest

from kuzet.plates import PlateDetector, PlatePipeline, PlateReader
from kuzet.plates.results import PlateDetection

PLATE_HEIGHT, PLATE_WIDTH = 100, 460  # the rectified crop of the real plate
GAP = 6  # plate-coloured rows and columns around each line


def _rectified_plate(frame, corners):
    target = np.array([[0, 0], [PLATE_WIDTH, 0], [PLATE_WIDTH, PLATE_HEIGHT], [0, PLATE_HEIGHT]], np.float32)
    matrix = cv2.getPerspectiveTransform(np.array(corners, np.float32), target)
    return cv2.warpPerspective(frame, matrix, (PLATE_WIDTH, PLATE_HEIGHT))


def _split_column(plate):
    """Middle of the widest character-free column run in the plate's middle half (the space in 'LS15 EBC')."""
    ink = (cv2.cvtColor(plate, cv2.COLOR_RGB2GRAY) < 100).sum(axis=0)
    quarter = PLATE_WIDTH // 4
    blank = ink[quarter : 3 * quarter] <= ink.min() + 4
    best, start = (0, 0), None
    for i, is_blank in enumerate([*blank, False]):
        if is_blank and start is None:
            start = i
        elif not is_blank and start is not None:
            best = max(best, (i - start, start))
            start = None
    return quarter + best[1] + best[0] // 2, plate[:, quarter + best[1] : quarter + best[1] + best[0]]


def _two_row_plate(plate):
    split, space = _split_column(plate)
    background = np.median(space[PLATE_HEIGHT // 4 : 3 * PLATE_HEIGHT // 4].reshape(-1, 3), axis=0)
    rows = slice(int(PLATE_HEIGHT * 0.14), int(PLATE_HEIGHT * 0.92))  # the characters, without the rim
    lines = [plate[rows, :split], plate[rows, split:]]
    line_height = lines[0].shape[0]
    width = max(line.shape[1] for line in lines) + 2 * GAP
    out = np.empty((2 * line_height + 3 * GAP, width, 3), np.uint8)
    out[:] = background.astype(np.uint8)
    for k, line in enumerate(lines):
        y, x = GAP + k * (line_height + GAP), (width - line.shape[1]) // 2
        out[y : y + line_height, x : x + line.shape[1]] = line
    return out


class _GivenDetection:
    """A detector that reports one plate at a known place (duck-typed PlateDetector)."""

    def __init__(self, box, double_row):
        self.box, self.double_row = box, double_row

    def detect(self, batch):
        x1, y1, x2, y2 = self.box
        corners = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
        return [[PlateDetection(box=self.box, corners=corners, score=0.9, double_row=self.double_row)]
                for _ in batch]


@pytest.fixture(scope="module")
def scene(uk_plate_frames, model_dir):
    """Frame 120 with its plate replaced by the two-row version, and where that plate now is."""
    frame = uk_plate_frames[120].copy()
    (found,) = PlateDetector(model_dir=model_dir, device="cpu").detect([frame])[0]
    two_row = _two_row_plate(_rectified_plate(frame, found.corners))
    x1, y1, x2, y2 = (int(v) for v in found.box)
    height = int((y2 - y1) * 1.8)
    width = int(height * two_row.shape[1] / two_row.shape[0])
    left, top = (x1 + x2) // 2 - width // 2, y1 - height // 4
    frame[top : top + height, left : left + width] = cv2.resize(two_row, (width, height),
                                                                   interpolation=cv2.INTER_AREA)
    return frame, (float(left), float(top), float(left + width), float(top + height))


@pytest.fixture(scope="module")
def reader(model_dir):
    return PlateReader(model_dir=model_dir, device="cpu")


def test_double_row_plate_is_split_into_lines_and_read_as_one_plate(scene, reader):
    frame, box = scene
    (read,) = PlatePipeline(_GivenDetection(box, True), reader, formats=("uk",)).process([frame])[0]
    assert read.double_row and read.text == "LS15EBC" and read.raw_text == "LS15EBC"
    assert len(read.char_confidences) == 7 and read.confidence > 0.5


def test_the_same_plate_read_as_one_line_loses_its_second_row(scene, reader):
    frame, box = scene
    (read,) = PlatePipeline(_GivenDetection(box, False), reader, formats=("uk",)).process([frame])[0]
    assert read.text != "LS15EBC" and "EBC" not in read.raw_text
