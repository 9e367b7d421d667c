"""Unit tests of the plate pipeline's parts: C++ decoding (YOLO/y5fu, CTC), edit distance, formats,
voting, tracking, hotlist and rectification geometry."""

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kuzet
from kuzet import _core
from kuzet.errors import InvalidArgument
from kuzet.plates import FormatSet, Hotlist, PlateRead, PlateTracker, edit_distance, normalize_plate, rectify, vote

# ---------------------------------------------------------------- y5fu / YOLO output decoding


def _y5fu_row(cx, cy, w, h, obj, corners, cls):
    return [cx, cy, w, h, obj, *np.ravel(corners), *cls]


def test_decode_y5fu_maps_boxes_and_corners_back_to_frame_and_thresholds():
    corners = [[90, 45], [110, 45], [110, 55], [90, 55]]
    rows = [
        _y5fu_row(100, 50, 20, 10, 0.9, corners, [0.2, 0.8]),  # 0.72: kept, double row
        _y5fu_row(200, 60, 20, 10, 0.9, corners, [0.5, 0.1]),  # 0.45: below 0.5
        _y5fu_row(10, 10, 4, 4, 0.4, corners, [1.0, 0.0]),  # 0.40: below
    ]
    out = np.array([rows], np.float32)
    transforms = np.array([[0.5, 0.5, 10.0, 20.0]], np.float32)  # frame = (model - pad) / scale
    image, boxes, pts, scores, classes = _core.plates_decode_yolo(out, transforms, score_threshold=0.5)
    assert image.tolist() == [0] and classes.tolist() == [1]
    np.testing.assert_allclose(scores, [0.72], rtol=1e-6)
    np.testing.assert_allclose(boxes[0], [(90 - 10) / 0.5, (45 - 20) / 0.5, (110 - 10) / 0.5, (55 - 20) / 0.5])
    np.testing.assert_allclose(pts[0], (np.array(corners) - [10, 20]) / 0.5)


def test_decode_box_only_yolo_layout_and_batch_index():
    out = np.zeros((2, 3, 6), np.float32)  # 5 + 1 class, no corners
    out[1, 2] = [50, 50, 10, 10, 0.9, 0.9]
    out[0, 0] = [5, 5, 2, 2, np.nan, 1.0]  # non-finite rows are never emitted
    transforms = np.tile(np.array([[1, 1, 0, 0]], np.float32), (2, 1))
    image, boxes, pts, scores, _ = _core.plates_decode_yolo(out, transforms, corner_count=0, score_threshold=0.5)
    assert image.tolist() == [1] and pts.shape == (1, 0, 2)
    np.testing.assert_allclose(boxes[0], [45, 45, 55, 55])


@pytest.mark.parametrize(
    "output, transforms, match",
    [
        (np.zeros((1, 4, 15), np.float64), np.ones((1, 4), np.float32), "float32"),
        (np.zeros((1, 4, 13), np.float32), np.ones((1, 4), np.float32), "at least 14"),
        (np.zeros((1, 4, 15), np.float32), np.ones((2, 4), np.float32), r"shape \(1, 4\)"),
        (np.zeros((1, 4, 15), np.float32), np.zeros((1, 4), np.float32), "positive"),
        (np.zeros((4, 15), np.float32), np.ones((1, 4), np.float32), "3 dimensions"),
    ],
)
def test_decode_rejects_bad_inputs(output, transforms, match):
    with pytest.raises(kuzet.InvalidArgument, match=match):
        _core.plates_decode_yolo(output, transforms)


# ---------------------------------------------------------------- CTC


def _probs(sequence, classes=5):
    p = np.full((len(sequence), classes), 0.01, np.float32)
    for t, (k, conf) in enumerate(sequence):
        p[t, k] = conf
    return p


def test_ctc_collapses_repeats_drops_blanks_and_keeps_repeated_letters_split_by_blank():
    # a a _ a b b _ _ -> "a a b" (the blank separates the two a's)
    row = _probs([(1, 0.9), (1, 0.7), (0, 0.9), (1, 0.6), (2, 0.5), (2, 0.8), (0, 0.9), (0, 0.9)])
    labels, conf, offsets = _core.plates_ctc_greedy_decode(row[None])
    assert labels.tolist() == [1, 1, 2] and offsets.tolist() == [0, 3]
    np.testing.assert_allclose(conf, [0.9, 0.6, 0.8])  # best timestep of each run


def test_ctc_allowed_mask_restricts_argmax_and_lengths_cut_padding():
    row = _probs([(3, 0.9), (0, 0.9), (2, 0.9), (0, 0.9), (1, 0.9)])
    row[0, 1] = 0.05  # second best at t=0 is class 1, allowed
    allowed = np.array([1, 1, 1, 0, 0], bool)  # class 3 and 4 are not plate characters
    batch = np.stack([row, row])
    labels, conf, offsets = _core.plates_ctc_greedy_decode(batch, allowed=allowed, lengths=np.array([5, 3]))
    assert offsets.tolist() == [0, 3, 5]
    assert labels.tolist() == [1, 2, 1, 1, 2]
    np.testing.assert_allclose(conf[0], 0.05)


def test_ctc_rejects_bad_shapes():
    with pytest.raises(InvalidArgument, match="one entry per class"):
        _core.plates_ctc_greedy_decode(np.zeros((1, 4, 5), np.float32), allowed=np.ones(4, bool))
    with pytest.raises(InvalidArgument, match="one entry per row"):
        _core.plates_ctc_greedy_decode(np.zeros((2, 4, 5), np.float32), lengths=np.ones(3, np.int32))
    with pytest.raises(InvalidArgument, match="C-contiguous"):
        _core.plates_ctc_greedy_decode(np.zeros((1, 5, 4), np.float32).transpose(0, 2, 1))


# ---------------------------------------------------------------- edit distance, hotlist


@pytest.mark.parametrize(
    "a, b, d",
    [("", "", 0), ("", "ABC", 3), ("KITTEN", "SITTING", 3), ("LS15EBC", "LSI5EBC", 1), ("LS15EBC", "LS15EB", 1),
     ("AB12CDE", "BA12CDE", 2), ("ÄÖ1", "AO1", 2)],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_edit_distance_matches_reference_dp_on_random_strings():
    rng = np.random.default_rng(7)

    def reference(a, b):
        dp = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, dp[0] = dp[0], i
            for j, cb in enumerate(b, 1):
                prev, dp[j] = dp[j], min(dp[j] + 1, dp[j - 1] + 1, prev + (ca != cb))
        return dp[-1]

    for _ in range(300):
        a = "".join(rng.choice(list("AB12"), rng.integers(0, 9)))
        b = "".join(rng.choice(list("AB12"), rng.integers(0, 9)))
        assert edit_distance(a, b) == reference(a, b)
        hits = _core.PlateIndex([b]).search(a, 2)
        assert (hits == [(0, reference(a, b))]) if reference(a, b) <= 2 else hits == []


def test_hotlist_exact_fuzzy_and_normalisation():
    hotlist = Hotlist(["ls15 ebc", "AB-12-CDE", "LS15EBC"], max_distance=1)
    assert hotlist.plates == ("LS15EBC", "AB12CDE")  # normalised, de-duplicated
    assert normalize_plate(" ab-12 cde ") == "AB12CDE"
    hit = hotlist.match("LS15 EBC")
    assert hit is not None and hit.exact and hit.plate == "LS15EBC"
    near = hotlist.match("LSI5EBC")
    assert near is not None and near.distance == 1 and not near.exact
    assert hotlist.match("XY99ZZZ") is None
    assert hotlist.match("LS1EB") is None  # 2 edits away
    assert "ab12cde" in hotlist and len(hotlist) == 2
    assert Hotlist(["LS15EBC"], max_distance=0).match("LSI5EBC") is None


def test_hotlist_rejects_bad_input():
    with pytest.raises(InvalidArgument, match="not one string"):
        Hotlist("LS15EBC")
    with pytest.raises(InvalidArgument, match="max_distance"):
        Hotlist(["A1"], max_distance=-1)
    with pytest.raises(InvalidArgument, match="empty"):
        Hotlist([" - "])


def test_hotlist_normalises_cyrillic_look_alikes_and_unicode_separators():
    # Typed on a Russian/Kazakh keyboard (Cyrillic А В С), with an en dash, a no-break space, full-width digits.
    hotlist = Hotlist(["123АВС01", "LS15\u2013EBC", "ＡＢ\u00a012\u200bCDE", "777 кzz 02"], max_distance=0)
    assert hotlist.plates == ("123ABC01", "LS15EBC", "AB12CDE", "777KZZ02")
    for read in ["123ABC01", "LS15EBC", "AB12CDE", "777KZZ02"]:
        hit = hotlist.match(read)
        assert hit is not None and hit.exact and hit.plate == read
    assert normalize_plate("ls15\u2014ebc\t") == "LS15EBC" and normalize_plate("Мо 12") == "MO12"
    # Anything else left is refused, naming the entry: it could never be read.
    for entry in ["MÜ 123", "AB/12", "A½"]:
        with pytest.raises(InvalidArgument, match=f"hotlist plate {entry!r} has characters"):
            Hotlist(["LS15EBC", entry])


def test_hotlist_max_distance_is_checked_and_a_huge_one_is_safe():
    # 2**31 - 1 overflowed the native search: every plate matched at distance -2**31.
    hits = Hotlist(["ABC"], max_distance=2**31 - 1).matches("XYZQQ")
    assert [(h.plate, h.distance) for h in hits] == [("ABC", 5)]
    assert Hotlist(["ABC"], max_distance=2**40).match("ABD").distance == 1
    assert Hotlist(["ABC"], max_distance=np.int64(1)).max_distance == 1
    for bad in [True, 1.0, "1", None, -1]:
        with pytest.raises(InvalidArgument, match="max_distance"):
            Hotlist(["ABC"], max_distance=bad)
    # Equally near plates: match() names the first listed, matches() lists both.
    tie = Hotlist(["AB12CDF", "AB12CDE"])
    assert tie.match("AB12CDX").plate == "AB12CDF"
    assert [h.plate for h in tie.matches("AB12CDX")] == ["AB12CDF", "AB12CDE"]


# ---------------------------------------------------------------- formats


def test_uk_format_fixes_confusions_only_where_the_format_demands():
    uk = FormatSet(["uk"])
    assert uk.resolve("LSI5EBC").text == "LS15EBC"  # I where a digit belongs
    assert uk.resolve("LS15E8C").text == "LS15EBC"  # 8 where a letter belongs
    assert uk.resolve("5S15EBC").text == "SS15EBC"
    r = uk.resolve("LS15EBC")
    assert (r.text, r.format, r.substitutions) == ("LS15EBC", "uk", 0)
    # letters where letters belong stay, even confusable ones: O stays O in the letter block
    assert uk.resolve("OB12SZG").text == "OB12SZG"


def test_formats_never_invent_or_drop_characters():
    uk = FormatSet(["uk"])
    for text in ["LS15EB", "LS15EBCX", "", "LS1XEBC"]:  # wrong length, or X cannot become a digit
        r = uk.resolve(text)
        assert r.text == text and r.format is None
    # a read that would need most of its characters swapped is not that plate misread: left as read
    for text in ["0000000", "5B1SE8C"]:  # 5 swaps; 3 swaps (more than a third of 7)
        r = uk.resolve(text)
        assert r.text == text and r.format is None
    assert uk.resolve("L515E8C").text == "LS15EBC"  # two misread characters: resolved


def test_kazakh_variable_length_and_pattern_formats():
    kz = FormatSet(["kz"])
    assert kz.resolve("I23ABO1").text == "123AB01"
    assert kz.resolve("123AB0I2").text == "123ABO12"
    custom = FormatSet([r"[A-Z]{2}\d{3}"])
    assert custom.resolve("A8123").text == "AB123"


def test_multiple_formats_take_the_fewest_swaps_and_ambiguity_leaves_text_alone():
    both = FormatSet(["it", "uk"])
    assert both.resolve("ZA834C0").text == "ZA834CO" and both.resolve("ZA834C0").format == "it"
    ambiguous = FormatSet([r"\d[A-Z]", r"[A-Z]\d"])
    assert ambiguous.resolve("0O").text == "0O"  # fits both without a swap
    assert ambiguous.resolve("OO").text == "OO"  # one swap either way, different results: unchanged


def test_bad_format_pattern_is_a_clear_error():
    with pytest.raises(InvalidArgument, match="cannot parse"):
        FormatSet([r"[A-Z]+\d"])
    with pytest.raises(InvalidArgument, match="not plate characters"):
        FormatSet([r"[a-z]{2}"])


# ---------------------------------------------------------------- voting


def test_vote_weights_by_confidence_over_the_most_common_length():
    reads = [
        ("LSI5EBC", (0.99, 0.99, 0.55, 0.99, 0.99, 0.99, 0.99)),
        ("LS15EBC", (0.99, 0.99, 0.90, 0.99, 0.99, 0.99, 0.99)),
        ("LS15EBC", (0.99, 0.99, 0.80, 0.99, 0.99, 0.99, 0.99)),
        ("LS15EB", (0.99,) * 6),  # a read of another length does not vote
        ("LSI5E8C", (0.99, 0.99, 0.60, 0.99, 0.99, 0.40, 0.99)),
    ]
    result = vote(reads)
    assert result is not None and result.text == "LS15EBC" and result.votes == 4
    assert result.char_confidences[0] == pytest.approx(0.99)
    assert result.char_confidences[2] < 0.9  # contested position
    # A confident minority beats an unsure majority.
    assert vote([("A1", (0.9, 0.95)), ("AI", (0.9, 0.3)), ("AI", (0.9, 0.3))]).text == "A1"
    assert vote([]) is None and vote([("", ())]) is None


def test_vote_never_stitches_a_plate_no_read_supports():
    # Half the reads say AZ12, half ZA21: per-character voting alone made "ZZ22", a plate nobody read.
    split = vote([("AZ12", (0.9,) * 4)] * 5 + [("ZA21", (0.9,) * 4)] * 5)
    assert split is not None and split.ambiguous and split.text == "AZ12"  # the earliest of the equally sure
    assert split.votes == 10 and split.confidence < 0.5
    # Confidences that make each half win different positions: not "AA11" either.
    crossed = vote([("AZ12", (0.9, 0.5, 0.9, 0.5))] * 5 + [("ZA21", (0.5, 0.9, 0.5, 0.9))] * 5)
    assert crossed is not None and crossed.ambiguous and crossed.text in ("AZ12", "ZA21")
    # A majority at every position is still voted, even when no single read has it all right.
    slips = vote([("XBC1", (0.9,) * 4), ("AXC1", (0.9,) * 4), ("ABX1", (0.9,) * 4)])
    assert slips is not None and slips.text == "ABC1" and not slips.ambiguous


# ---------------------------------------------------------------- tracking


def _read(box, text="AB12CDE", conf=0.9):
    return PlateRead(box=box, corners=(), detection_score=0.9, text=text, raw_text=text, confidence=conf,
                     char_confidences=(conf,) * len(text), format=None, double_row=False)


def test_tracker_follows_a_moving_plate_and_emits_once_after_the_gap():
    tracker = PlateTracker(iou_threshold=0.3, max_gap=0.5, formats=FormatSet(["uk"]),
                           hotlist=Hotlist(["AB12CDE"]))
    emitted = []
    for i in range(10):
        x = 100 + 3 * i
        text = "AB12CDE" if i % 3 else "A812CDE"
        emitted += tracker.update([_read((x, 50, x + 60, 70), text)], pts=i / 10)
    assert emitted == []  # still in view
    emitted += tracker.update([], pts=1.2)  # gap of 0.3 s: still open
    assert emitted == []
    emitted += tracker.update([], pts=1.6)  # gap of 0.7 s > 0.5: ended
    assert len(emitted) == 1
    track = emitted[0]
    assert (track.text, track.frames, track.first_pts, track.last_pts) == ("AB12CDE", 10, 0.0, 0.9)
    assert track.hotlist is not None and track.hotlist.exact and track.format == "uk"
    assert tracker.flush() == []
    assert track.to_dict()["text"] == "AB12CDE"


def test_tracker_separates_plates_and_flush_ends_open_tracks():
    tracker = PlateTracker()
    for i in range(3):
        tracker.update([_read((0, 0, 50, 20), "AAA111"), _read((300, 300, 350, 320), "BBB222")], pts=i)
    tracks = tracker.flush()
    assert [t.text for t in tracks] == ["AAA111", "BBB222"] and [t.track_id for t in tracks] == [1, 2]
    assert tracker.flush() == []


def test_tracker_does_not_report_tracks_it_cannot_read():
    tracker = PlateTracker(min_confidence=0.3)
    tracker.update([_read((10, 10, 70, 30), "I", conf=0.05), _read((200, 10, 260, 30), "AB12CDE", conf=0.8)], 0.0)
    tracker.update([_read((10, 10, 70, 30), "I", conf=0.07), _read((200, 10, 260, 30), "AB12CDE", conf=0.9)], 0.1)
    assert [t.text for t in tracker.flush()] == ["AB12CDE"]  # the unsure "I" (a false detection) is dropped
    unfiltered = PlateTracker()
    unfiltered.update([_read((10, 10, 70, 30), "I", conf=0.05)], 0.0)
    assert [t.text for t in unfiltered.flush()] == ["I"]
    with pytest.raises(InvalidArgument, match="min_confidence"):
        PlateTracker(min_confidence=1.5)


def test_tracker_rejects_bad_pts():
    tracker = PlateTracker()
    tracker.update([], pts=1.0)
    with pytest.raises(InvalidArgument, match="must not decrease"):
        tracker.update([], pts=0.5)
    with pytest.raises(InvalidArgument, match="finite"):
        tracker.update([], pts=float("nan"))


def test_tracker_splits_when_another_car_stops_where_the_last_one_was():
    # A gate: car A leaves and car B stops in the same box within max_gap. Box overlap alone joined B's
    # reads to A's track; only A was reported and B's hotlist hit was lost.
    box = (100, 100, 200, 130)
    tracker = PlateTracker(formats=FormatSet(["kz"]), hotlist=Hotlist(["777KZZ02"], max_distance=0))
    emitted = []
    for i in range(12):
        emitted += tracker.update([_read(box, "123ABC01")], i * 0.04)
    for i in range(12, 20):
        emitted += tracker.update([_read(box, "777KZZ02")], i * 0.04)
        if i == 13:  # the second disagreeing read ends A's track at once
            assert [(t.text, t.frames, t.last_pts) for t in emitted] == [("123ABC01", 12, pytest.approx(0.44))]
    emitted += tracker.flush()
    assert [(t.text, t.frames, t.votes) for t in emitted] == [("123ABC01", 12, 12), ("777KZZ02", 8, 8)]
    assert emitted[0].hotlist is None and emitted[1].hotlist is not None and emitted[1].hotlist.exact
    assert emitted[1].first_pts == pytest.approx(0.48) and emitted[1].track_id > emitted[0].track_id


def test_tracker_keeps_misreads_and_a_parked_car_in_one_track():
    box = (100, 100, 200, 130)
    tracker = PlateTracker()
    emitted = []
    for i in range(60):  # a parked car, read in every frame
        text = "123ABC01"
        if i % 10 == 5:
            text = "XYZ"  # a lone misread far from the plate
        elif i == 20:
            text = ""  # nothing readable
        elif i in (30, 31):
            text = ("QQQ", "77777777")[i - 30]  # two misreads in a row that disagree with each other too
        elif i == 40:
            text = "123A8C0"  # close to the plate: it agrees
        emitted += tracker.update([_read(box, text)], i * 0.5)
    emitted += tracker.flush()
    assert [(t.text, t.frames, t.first_pts, t.last_pts) for t in emitted] == [("123ABC01", 60, 0.0, 29.5)]
    assert not emitted[0].ambiguous
    # A lone misread as the very last read stays in its track.
    tracker.update([_read(box, "123ABC01")], 40.0)
    tracker.update([_read(box, "XYZ")], 40.1)
    assert [(t.text, t.frames) for t in tracker.update([], 45.0)] == [("123ABC01", 2)]


def test_tracker_reports_a_contested_track_as_ambiguous_with_a_real_read():
    tracker = PlateTracker()
    for i in range(10):  # alternating reads: never two disagreeing in a row, so one track
        tracker.update([_read((0, 0, 60, 20), "AZ12" if i % 2 == 0 else "ZA21")], i * 0.04)
    (track,) = tracker.flush()
    assert track.text == "AZ12" and track.ambiguous and track.to_dict()["ambiguous"] is True
    wanted = PlateTracker(hotlist=Hotlist(["ZA21"], max_distance=0))  # the other half of the reads is wanted
    for i in range(10):
        wanted.update([_read((0, 0, 60, 20), "AZ12" if i % 2 == 0 else "ZA21")], i * 0.04)
    (track,) = wanted.flush()
    assert track.text == "AZ12" and track.ambiguous and track.hotlist is not None and track.hotlist.plate == "ZA21"


# ---------------------------------------------------------------- rectification geometry


def test_crop_matrices_match_opencv_perspective_transform():
    corners = np.array([[[120.0, 80.0], [260.0, 95.0], [255.0, 140.0], [115.0, 128.0]]])
    unit = rectify.unit_square_homographies(corners)
    w, h = 160, 48
    ours = rectify.crop_matrices(unit, rectify.FULL, h, np.array([w]), margin=0.0)[0]
    # OpenCV: crop pixel centres (x + 0.5, y + 0.5) of a w x h crop <-> the quad's corners at (0,0) .. (w,h).
    dst = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    theirs = cv2.getPerspectiveTransform(dst, corners[0].astype(np.float32))
    np.testing.assert_allclose(ours / ours[2, 2], theirs / theirs[2, 2], rtol=1e-6, atol=1e-6)
    assert not np.isfinite(rectify.unit_square_homographies(np.zeros((1, 4, 2)))).all()


# ---------------------------------------------------------------- robustness on arbitrary numbers

_any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 3), st.integers(0, 20), st.just(15)), elements=_any_float))
@example(np.full((1, 1, 15), 1.13e38, np.float32))  # finite values whose frame coordinates overflow
def test_decode_never_emits_non_finite_candidates(output):
    transforms = np.tile(np.array([[0.5, 0.5, 3.0, 4.0]], np.float32), (len(output), 1))
    image, boxes, corners, scores, classes = _core.plates_decode_yolo(output, transforms, score_threshold=0.25)
    assert len(image) == len(boxes) == len(corners) == len(scores) == len(classes)
    assert np.isfinite(boxes).all() and np.isfinite(corners).all()
    assert ((image >= 0) & (image < max(len(output), 1))).all() and ((classes == 0) | (classes == 1)).all()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(2, 8)), elements=_any_float))
def test_ctc_decode_is_total_on_arbitrary_scores(probs):
    labels, conf, offsets = _core.plates_ctc_greedy_decode(probs)
    assert offsets[0] == 0 and offsets[-1] == len(labels) == len(conf) and (np.diff(offsets) >= 0).all()
    assert ((labels > 0) & (labels < probs.shape[2])).all()


def test_pipeline_reads_nothing_from_a_degenerate_detection(model_dir):
    from kuzet.plates import PlateDetection, PlatePipeline, PlateReader
    from kuzet.plates.detector import PlateDetector

    class FlatDetector(PlateDetector):
        def __init__(self):  # no model: returns one zero-area plate per frame
            pass

        def detect(self, images):
            return [[PlateDetection((5.0, 5.0, 5.0, 9.0), ((5.0, 5.0),) * 4, 0.9, False)] for _ in images]

    pipeline = PlatePipeline(FlatDetector(), PlateReader(model_dir=model_dir, device="cpu"))
    reads = pipeline.process([np.zeros((32, 32, 3), np.uint8)])
    assert [(r.text, r.confidence) for r in reads[0]] == [("", 0.0)]


def test_box_only_yolo_detector_end_to_end(tmp_path, model_dir):
    """A caller's box-only YOLO detector ([N,M,5+nc], no corners): a tiny ONNX graph that always finds one
    plate at (32,32) size 20x10 in its 64x64 input, i.e. (44,44)-(84,64) in a 128x128 frame."""
    import onnx
    from onnx import TensorProto, helper

    from kuzet.models import ModelSpec
    from kuzet.plates import PlateDetector, PlatePipeline, PlateReader

    row = helper.make_tensor("row", TensorProto.FLOAT, [1, 1, 6], [32, 32, 20, 10, 0.9, 0.8])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [0, 1, 1])
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape"], ["per_image"]),
        helper.make_node("Mul", ["per_image", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "row"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "box_only", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                 ["n", 3, 64, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1, 6])],
                              initializer=[row, zero, shape])
    path = tmp_path / "box_only.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    spec = ModelSpec("box_only", str(path), None, "plate_detector", "yolo", "test", "test", (64, 64))

    detector = PlateDetector(spec, path=path, device="cpu", score_threshold=0.5)
    frames = np.zeros((2, 128, 128, 3), np.uint8)
    detections = detector.detect(frames)
    assert [len(d) for d in detections] == [1, 1]
    det = detections[1][0]
    np.testing.assert_allclose(det.box, (44, 54, 84, 74))
    assert det.corners == () and not det.double_row and det.score == pytest.approx(0.72)
    reads = PlatePipeline(detector, PlateReader(model_dir=model_dir, device="cpu")).process(frames)
    assert [len(r) for r in reads] == [1, 1] and reads[0][0].text == ""  # a black box has no text
