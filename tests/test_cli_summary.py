"""The analyze command's summary: a live source recorded over two connections lists both signed manifests."""

from kuzet.commands.summary import RunSummary
from kuzet.pipeline.events import Event


def test_every_recording_of_a_source_is_listed():
    summary = RunSummary()
    for n, root in ((0, "aa"), (1, "bb")):
        summary.add(Event("cam1", "evidence", None, None,
                          {"root": root, "tree_size": 3 + n, "manifest": f"ev/cam1.{n}.manifest.json"}))
    summary.add(Event("cam1", "source_end", None, None,
                      {"state": "ended", "decoded": 10, "analysed": 10, "sampled_out": 0, "dropped": 0}))
    text = summary.render(1.0)
    assert "cam1: root aa (3 segments, ev/cam1.0.manifest.json)" in text
    assert "cam1: root bb (4 segments, ev/cam1.1.manifest.json)" in text
