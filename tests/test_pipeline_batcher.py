import threading
import time

import pytest

from kuzet.pipeline import DynamicBatcher, Metrics


def test_batches_fill_round_robin_across_sources():
    b: DynamicBatcher[int] = DynamicBatcher(max_batch=4, max_wait=0.0, queue_size=10)
    for s in ("a", "b"):
        b.add_source(s)
    for i in range(3):
        b.put("a", i)
        b.put("b", 100 + i)
    batch = b.get_batch()
    assert batch == [("a", 0), ("b", 100), ("a", 1), ("b", 101)]
    b.close_source("a")
    b.close_source("b")
    assert b.get_batch() == [("a", 2), ("b", 102)]
    assert b.get_batch() is None


def test_full_queue_blocks_the_producer_until_the_consumer_takes():
    b: DynamicBatcher[int] = DynamicBatcher(max_batch=2, max_wait=0.0, queue_size=2)
    b.add_source("a")
    produced = []

    def producer():
        for i in range(6):
            b.put("a", i)
            produced.append(i)
        b.close_source("a")

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.2)
    assert len(produced) == 2  # bounded: the third put waits
    assert b.depths() == {"a": 2}
    got = []
    while (batch := b.get_batch()) is not None:
        got += [item for _, item in batch]
    t.join(5)
    assert got == list(range(6)) and not t.is_alive()


def test_partial_batch_is_released_after_max_wait():
    b: DynamicBatcher[int] = DynamicBatcher(max_batch=8, max_wait=0.05, queue_size=8)
    b.add_source("a")
    b.put("a", 1)
    start = time.monotonic()
    assert b.get_batch() == [("a", 1)]
    assert time.monotonic() - start < 5  # released by the deadline, not by a full batch


def test_stop_wakes_blocked_producers_and_the_consumer():
    b: DynamicBatcher[int] = DynamicBatcher(max_batch=1, max_wait=0.0, queue_size=1)
    b.add_source("a")
    b.put("a", 0)
    results = []
    t = threading.Thread(target=lambda: results.append(b.put("a", 1)))
    t.start()
    time.sleep(0.05)
    b.stop()
    t.join(5)
    assert results == [False]
    assert b.get_batch() is None


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        DynamicBatcher(max_batch=0, max_wait=0.0, queue_size=1)


def test_metrics_prometheus_text():
    m = Metrics()
    with m.stage("faces", items=3):
        pass
    m.add("cam \"1\"", decoded=5, analysed=4, sampled_out=1)
    m.update_source("cam \"1\"", state="running")
    m.register_gauge("queue_depth", lambda: {"cam \"1\"": 2})
    text = m.prometheus()
    assert 'kuzet_stage_items_total{stage="faces"} 3' in text
    assert 'kuzet_source_frames_decoded_total{source="cam \\"1\\""} 5' in text
    assert 'kuzet_source_up{source="cam \\"1\\""} 1' in text
    assert 'kuzet_source_info{source="cam \\"1\\"",decoder="",gpu_frames="false"} 1' in text
    m.update_source("cam \"1\"", decoder="cuda:0", gpu_frames=True)
    assert 'kuzet_source_info{source="cam \\"1\\"",decoder="cuda:0",gpu_frames="true"} 1' in m.prometheus()
    assert 'kuzet_queue_depth{source="cam \\"1\\""} 2' in text
    snap = m.snapshot()
    assert snap["sources"]["cam \"1\""]["analysed"] == 4
