"""The writers: all or nothing, and the same bytes for the same content."""

import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_transfer.core import atomic


def test_write_npz_gives_the_same_bytes_each_time_and_numpy_reads_it(tmp_path):
    arrays = {"images": np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28), "labels": np.array([3, 7], np.uint8)}
    atomic.write_npz(tmp_path / "a.npz", arrays)
    atomic.write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as loaded:
        assert sorted(loaded.files) == ["images", "labels"]
        np.testing.assert_array_equal(loaded["images"], arrays["images"])


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"old": 1})
    with pytest.raises(RuntimeError), atomic.replacing(target) as partial:
        partial.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert list(tmp_path.iterdir()) == [target]


def test_a_folder_is_replaced_whole(tmp_path):
    folder = tmp_path / "features"
    with atomic.replacing(folder) as partial:
        partial.mkdir()
        (partial / "old.npy").write_bytes(b"old")
    with atomic.replacing(folder) as partial:
        partial.mkdir()
        (partial / "new.npy").write_bytes(b"new")
    assert [p.name for p in folder.iterdir()] == ["new.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features"]


def test_a_partial_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    target = tmp_path / "mnist.npz"
    dead = subprocess.Popen(["true"])  # a writer that has exited
    dead.wait()
    atomic.partial_path(target, dead.pid).write_bytes(b"left by SIGKILL")
    atomic.write_bytes(target, b"complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]


def test_the_partial_is_a_hidden_sibling_named_by_its_writer_that_keeps_the_suffix(tmp_path):
    me = os.getpid()
    assert atomic.partial_path(tmp_path / "cnn.keras") == tmp_path / f".cnn.partial-{me}.keras"
    assert atomic.partial_path(tmp_path / "features") == tmp_path / f".features.partial-{me}"


def test_two_writers_at_once_never_share_a_partial_and_a_live_ones_is_left_alone(tmp_path):
    target = tmp_path / "record.jsonl"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = atomic.partial_path(target, other.pid)
        theirs.write_bytes(b"half of theirs")
        atomic.write_bytes(target, b"mine, whole")
        assert theirs.read_bytes() == b"half of theirs"
        assert target.read_bytes() == b"mine, whole"
    finally:
        other.kill()
        other.wait()


def test_what_is_written_reaches_the_disk_before_it_takes_the_name(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    atomic.write_bytes(tmp_path / "a.json", b"{}")
    assert synced == [str(atomic.partial_path(tmp_path / "a.json")), str(tmp_path)]
