"""Disk full (issue 17, "Lost or mixed data" and "Unclear messages"), through a fake
filesystem layer: every byte lstmviz writes goes through `lstmviz.engine.files.
open_for_write`, which these tests replace by files that raise ENOSPC once N bytes have
been written in all. Whatever N, the outcome is one message naming the file that could
not be written (never a hidden temporary), nothing partial left and the old files intact.
Also: every writer follows the umask (no mkstemp 0600)."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest

from lstmviz.config import Config, ConfigError, save_config
from lstmviz.engine import files
from lstmviz.engine.training.sweep import SweepResult, write_csv
from lstmviz.engine.training.trainer import TrainConfig, Trainer, pair_matches, sidecar_path


class FullDisk:
    """Files that fail with ENOSPC once `room` bytes have been written through all of them."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.written = 0
        self.failed: list[str] = []

    def open(self, path):
        disk = self
        real = open(path, "wb")  # noqa: SIM115

        class Full:
            def write(self, data) -> int:
                data = bytes(data)
                if disk.written + len(data) > disk.room:
                    disk.failed.append(str(path))
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
                disk.written += len(data)
                return real.write(data)

            def __getattr__(self, name):  # seek, tell, flush ... (np.savez's zipfile)
                return getattr(real, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                real.close()

        return Full()


@pytest.fixture
def full_disk(monkeypatch):
    def install(room: int) -> FullDisk:
        disk = FullDisk(room)
        monkeypatch.setattr(files, "open_for_write", disk.open)
        return disk

    return install


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- lstmviz export ------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0, 0.1, 0.5, 0.97])
def test_export_on_a_full_disk(tmp_path, full_disk, capsys, fraction):
    from lstmviz import cli

    out = tmp_path / "out"
    out.mkdir()
    args = ["export", "--out", str(out), "--format", "png,csv", "--panels",
            "gradients,forget", "--force", "--quiet"]
    assert cli.main(args) == 0  # the set a failed export must leave as it is
    capsys.readouterr()
    before = snapshot(out)
    # the disk fills at this fraction of the set's size: each time in another file
    disk = full_disk(int(fraction * sum(map(len, before.values()))))
    assert cli.main([*args[:-1], "--theme", "dark", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert disk.failed, "the fake disk was never full: raise room"
    assert len(err) == 1 and "No space left on device" in err[0], err
    target = err[0].split("No space left on device: ")[1].strip("'")
    assert os.path.basename(target) in before  # a final name, not a temporary
    assert snapshot(out) == before


def test_dialog_export_on_a_full_disk(make_window, tmp_path, full_disk, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from lstmviz.ui.export.dialog import ExportOptions, start_export_job, targets

    window = make_window()
    (tmp_path / "gradients.png").write_bytes(b"old")
    before = snapshot(tmp_path)
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    full_disk(20_000)
    job = start_export_job(window, targets(window, "panels"),
                           ExportOptions(fmt="png", path=str(tmp_path)), progress=False)
    assert job.wait() == []
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert str(tmp_path) in warnings[0] and ".tmp" not in warnings[0]
    assert snapshot(tmp_path) == before


# -- lstmviz train --save ------------------------------------------------------------------
TINY = ["--length", "6", "--hidden", "6", "--batch", "8", "--iterations", "10", "--quiet"]


@pytest.mark.parametrize("room", [0, 3_000, 12_000])
def test_train_save_on_a_full_disk_keeps_the_old_pair(tmp_path, full_disk, capsys, room):
    from lstmviz.cli import main

    w = tmp_path / "w.npz"
    assert main(["train", *TINY, "--save", str(w)]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    disk = full_disk(room)
    assert main(["train", "--resume", str(w), "--iterations", "10", "--quiet",
                 "--save", str(w)]) == 1
    assert disk.failed
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert ("w.npz" in err[0] or "w.train.npz" in err[0]) and ".tmp" not in err[0]
    assert snapshot(tmp_path) == before  # both files: the old pair, byte for byte
    assert pair_matches(w) and Trainer.load(w).iteration == 10


# -- the other writers ---------------------------------------------------------------------
def result(kind="lstm", length=10):
    return SweepResult(kind=kind, task="adding", length=length, seed=0, score=0.1,
                       solved=False, iterations=5, seconds=0.5)


def test_config_and_sweep_csv_on_a_full_disk(tmp_path, full_disk):
    save_config(tmp_path / "c.toml", Config())
    write_csv(tmp_path / "sweep.csv", [result()])
    before = snapshot(tmp_path)
    full_disk(10)
    with pytest.raises(ConfigError, match=r"c\.toml: cannot write \(No space left on device\)"):
        save_config(tmp_path / "c.toml", Config(seq_len=30))
    with pytest.raises(OSError, match=r"No space left on device: '.*sweep\.csv'"):
        write_csv(tmp_path / "sweep.csv", [result(), result("gru")])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_every_writer_follows_the_umask(tmp_path, mask):
    from lstmviz.engine.training.history import HistoryWriter

    old = os.umask(mask)
    try:
        write_csv(tmp_path / "sweep.csv", [result()])
        t = Trainer(TrainConfig(length=6, hidden_size=4, batch_size=8))
        t.save(tmp_path / "w.npz")
        writer = HistoryWriter(tmp_path / "h", t.config)
        assert (writer.folder / "history.json").exists()
        save_config(tmp_path / "c.toml", Config())
    finally:
        os.umask(old)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"sweep.csv", "w.npz", "w.train.npz", "c.toml"}
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p


def test_a_kill_between_the_two_renames_is_detected_and_resumes(tmp_path):
    w = tmp_path / "w.npz"
    t = Trainer(TrainConfig(length=6, hidden_size=4, batch_size=8))
    list(t.run(3))
    t.save(w)
    assert pair_matches(w)
    old_weights = w.read_bytes()
    list(t.run(3))
    t.save(w)
    w.write_bytes(old_weights)  # as a kill -9 between the checkpoint's and the weights' rename
    assert not pair_matches(w)  # new checkpoint, previous weights: detected
    back = Trainer.load(w)  # resume: from the complete checkpoint
    assert back.iteration == 6
    for k in t.params:
        np.testing.assert_array_equal(back.params[k], t.params[k])
    back.save(w)
    assert pair_matches(w) and sidecar_path(w).exists()


@pytest.mark.parametrize("args", [
    ["--format", "gif", "--stride", "20"],
    ["--walkthrough", "vanishing", "--all-steps", "--format", "pdf"],
], ids=["gif", "deck"])
def test_gif_and_deck_on_a_full_disk(tmp_path, full_disk, capsys, args):
    from lstmviz import cli

    disk = full_disk(2_000)
    assert cli.main(["export", "--out", str(tmp_path), "--quiet", *args]) == 1
    assert disk.failed
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device: '" + str(tmp_path) in err[0], err
    assert ".tmp" not in err[0] and list(tmp_path.iterdir()) == []
