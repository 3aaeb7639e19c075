"""Compressed telemetry files (.gz, .zst) read like the plain ones, within a size cap."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import zstandard

from workbench.errors import BadData, LimitExceeded
from workbench.incident import Incident
from workbench.lab.demo import demo_path
from workbench.sources.files import DirectorySource, FileSource, compressed
from workbench.timewindow import Window

W = Window.parse("2026-11-20T09:00:00Z..2026-11-20T11:00:00Z")
META = {"scenario.json", "topology.json", "truth.json"}


def _compressed_copy(src: Path, dst: Path, codec: str) -> Path:
    """The demo directory with every telemetry file compressed (the originals removed)."""
    shutil.copytree(src, dst)
    for f in sorted(dst.rglob("*")):
        if not f.is_file() or f.name in META or f.suffix == ".om":
            continue
        data = f.read_bytes()
        if codec == "gzip":
            out, blob = f.with_name(f.name + ".gz"), gzip.compress(data)
        else:
            out, blob = f.with_name(f.name + ".zst"), zstandard.ZstdCompressor().compress(data)
        out.write_bytes(blob)
        f.unlink()
    return dst


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_compressed_copy_of_the_demo_loads_into_the_same_frames(
    tmp_path: Path, codec: str
) -> None:
    plain_dir = demo_path()
    packed = _compressed_copy(plain_dir, tmp_path / "demo", codec)
    suffix = ".gz" if codec == "gzip" else ".zst"
    names = sorted(p.name for p in packed.rglob("*" + suffix))
    assert len(names) == 7, names  # logs, traces, parquet metrics, four events files
    plain = Incident.from_directory(plain_dir).load()
    packed_inc = Incident.from_directory(packed).load()
    assert not packed_inc.partial
    d = DirectorySource(packed).describe()
    assert d["files"]["logs"] == [f"logs/logs.jsonl{suffix} (jsonl)"]
    assert d["files"]["spans"] == [f"traces/traces.otlp.jsonl{suffix} (otlp)"]
    for signal in ("metrics", "logs", "spans", "events"):
        a, b = plain.frame(signal), packed_inc.frame(signal)
        assert a.height > 0, signal
        if signal == "events":  # the source column names the file it came from
            a, b = a.drop("source"), b.drop("source")
        assert a.equals(b), signal


def test_a_file_that_inflates_past_the_cap_is_refused_naming_file_and_cap(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "app.jsonl.gz"
    line = b'{"ts": "2026-11-20T10:00:00Z", "service": "a", "message": "x"}\n'
    bomb.write_bytes(gzip.compress(line * 40_000))  # ~2.6 MB from a few kB
    assert bomb.stat().st_size < 50_000
    with pytest.raises(LimitExceeded) as err:
        compressed.read_bytes(bomb, source="logs", max_bytes=1_000_000)
    assert "app.jsonl.gz" in str(err.value) and "1,000,000" in str(err.value)
    assert err.value.limit == "decompressed file size"
    assert len(compressed.read_bytes(bomb, max_bytes=3_000_000)) == len(line) * 40_000


def test_the_default_cap_applies_to_the_file_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "app.jsonl.zst"
    line = b'{"ts": "2026-11-20T10:00:00Z", "service": "a", "message": "x"}\n'
    f.write_bytes(zstandard.ZstdCompressor().compress(line * 1000))
    assert FileSource(f).logs(None, W).rows == 1000
    big = tmp_path / "big.jsonl.zst"
    big.write_bytes(f.read_bytes())
    monkeypatch.setattr(compressed, "MAX_DECOMPRESSED_BYTES", 10_000)
    with pytest.raises(LimitExceeded, match=r"big\.jsonl\.zst.*10,000"):
        FileSource(big).logs(None, W)


def test_corrupt_and_misnamed_archives_are_bad_data_naming_the_file(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:-20])
    with pytest.raises(BadData, match=r"cut\.jsonl\.gz: corrupt or truncated gzip"):
        compressed.read_bytes(cut)
    fake = tmp_path / "plain.jsonl.zst"
    fake.write_bytes(b'{"a": 1}\n')
    with pytest.raises(BadData, match=r"plain\.jsonl\.zst is named as zstd"):
        compressed.read_bytes(fake)
    assert compressed.inner_name(Path("x/Traces.OTLP.json.GZ")) == "traces.otlp.json"
    assert compressed.read_head(cut, 8) == b'{"a": 1}'
