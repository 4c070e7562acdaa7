"""The native tap's SPSC rings (30-media-tap.patch), driven through ctypes: order,
wrap-around, overrun and underrun counted, flush. `make install` builds the patched
pjsua2, so the rings are there; a library without them fails here, naming the patch."""

from __future__ import annotations

import threading

import pytest

from vio_sbc.rtp import tap
from vio_sbc.rtp.tap import Ring

FB = 4  # bytes per frame: small frames, same code


def frame(i: int) -> bytes:
    return i.to_bytes(FB, "little")


def frames(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[i:i + FB], "little") for i in range(0, len(raw), FB)]


def test_the_loaded_pjsua2_has_the_native_tap() -> None:
    assert tap.available(), "pjsua2 lacks vio_tap_* (scripts/pjproject-patches/30-media-tap.patch)"


def test_frames_come_out_in_order_with_their_stamps_across_wrap_around() -> None:
    r = Ring(4, FB, stamps=True)
    got: list[int] = []
    for i in range(10):  # 10 frames through 4 slots: the indices wrap twice
        assert r.put(frame(i), stamp=1000 + i)
        raw, stamp = r.get(1)
        assert stamp == 1000 + i
        got += frames(raw)
    assert got == list(range(10))
    for i in range(3):
        r.put(frame(100 + i), 2000 + i)
    raw, stamp = r.get(8)  # a read across the wrap point, stamp of its first frame
    assert frames(raw) == [100, 101, 102] and stamp == 2000
    assert r.counts() == {"head": 13, "tail": 13, "overruns": 0, "underruns": 0}


def test_a_full_ring_drops_the_new_frame_and_counts_an_overrun() -> None:
    r = Ring(3, FB)
    assert [r.put(frame(i)) for i in range(5)] == [True, True, True, False, False]
    assert r.counts()["overruns"] == 2
    assert frames(r.get(10)[0]) == [0, 1, 2]  # the oldest kept, nothing overwritten
    assert r.put(frame(9))
    assert frames(r.get(10)[0]) == [9]


def test_put_many_takes_what_fits_without_an_overrun() -> None:
    r = Ring(4, FB)
    assert r.put_many(b"".join(frame(i) for i in range(6))) == 4
    assert r.counts()["overruns"] == 0
    assert [r.pop() for _ in range(5)][-1] is None


def test_an_empty_pop_is_an_underrun_only_while_more_was_promised() -> None:
    r = Ring(4, FB)
    assert r.pop() is None  # nothing promised: the agent is just silent
    assert r.counts()["underruns"] == 0
    r.put_many(frame(1) + frame(2), more=True)  # the engine has more to come
    assert r.pop() == frame(1) and r.pop() == frame(2)
    assert r.pop() is None and r.pop() is None  # two ticks with a gap in the audio
    assert r.counts()["underruns"] == 2
    r.put_many(b"", more=False)  # the burst is over
    assert r.pop() is None
    assert r.counts()["underruns"] == 2


def test_flush_drops_what_was_queued_before_it_not_after() -> None:
    r = Ring(8, FB)
    r.put_many(b"".join(frame(i) for i in range(5)))
    assert r.pop() == frame(0)
    r.flush()
    r.put_many(frame(42))
    assert r.pop() == frame(42)
    assert r.pop() is None
    assert r.counts()["tail"] == r.counts()["head"] == 6


def test_a_producer_and_a_consumer_thread_lose_nothing_they_did_not_count() -> None:
    r = Ring(16, FB)
    n = 20000
    got: list[int] = []

    def consume() -> None:
        while len(got) + r.counts()["overruns"] < n:
            raw, _ = r.get(16)
            got.extend(frames(raw))

    th = threading.Thread(target=consume)
    th.start()
    for i in range(n):
        r.put(frame(i))
    th.join(30)
    assert not th.is_alive()
    raw, _ = r.get(16)
    got.extend(frames(raw))
    c = r.counts()
    assert len(got) + c["overruns"] == n
    assert got == sorted(got)  # never out of order, never duplicated
    assert len(set(got)) == len(got)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Ring(0, FB)
