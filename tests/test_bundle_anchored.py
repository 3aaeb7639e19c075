"""Anchored, signed evidence (issue 15, part 3).

A bundle rewritten consistently -- a note and a frame changed, then every hash
recomputed (frame SHA-256s, row counts, the annotation chain, ``bundle_sha256``) -- still
passes the "intact" check: that is what intact means. It fails ``--expect`` with the
digest published at save time and fails ``--public-key`` with the signer's key. An
untouched signed bundle passes both; a bundle signed with another key fails.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.test_bundle import T0, FrameSource, _logs
from workbench import ConfigError, Incident, Window
from workbench.annotations import AnnotationLog
from workbench.bundle import _manifest_digest, check_bundle, verify_bundle
from workbench.cli import main
from workbench.postmortem import draft
from workbench.signing import load_public_keys


def _keypair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """An OpenSSH id_ed25519 made by ssh-keygen when present, else by cryptography."""
    key = tmp_path / name
    try:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
            check=True, capture_output=True,
        )  # fmt: skip
    except (FileNotFoundError, subprocess.CalledProcessError):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        k = ed25519.Ed25519PrivateKey.generate()
        key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                        serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))  # fmt: skip
        pub = k.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        (tmp_path / f"{name}.pub").write_bytes(pub + f" {name}\n".encode())
    return key, tmp_path / f"{name}.pub"


@pytest.fixture
def incident() -> Incident:
    w = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    inc = Incident("INC-9", w, sources=[FrameSource(_logs())])
    inc.note("error rate up on checkout", at=T0 + timedelta(minutes=95), author="alice")
    inc.note("rolled back checkout v2.3", at=T0 + timedelta(minutes=99), kind="action")
    return inc


def _rewrite_consistently(path: Path) -> None:
    """What a careful forger does: change a note and a frame, recompute every hash."""
    logs = pl.read_parquet(path / "frames/logs.parquet")
    logs = logs.with_columns(
        pl.when(pl.col("level") == "error").then(pl.lit("info")).otherwise(pl.col("level"))
        .alias("level")
    )  # fmt: skip
    logs.write_parquet(path / "frames/logs.parquet")
    old = AnnotationLog.read(path / "annotations.jsonl")
    new = AnnotationLog()
    for a in old:
        text = "nothing unusual" if "error rate" in a.text else a.text
        new.append(text, at=a.at, kind=a.kind, author=a.author, ref=a.ref)
    new.write(path / "annotations.jsonl")
    m = json.loads((path / "manifest.json").read_text())
    for e in m["frames"]:
        f = path / e["file"]
        e["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
        e["rows"] = pl.read_parquet(f).height
    m["annotations"]["head"] = new.head
    m["annotations"]["count"] = len(new)
    m["annotations"]["sha256"] = hashlib.sha256(
        (path / "annotations.jsonl").read_bytes()
    ).hexdigest()
    m["bundle_sha256"] = _manifest_digest(m)
    (path / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")


def test_save_returns_the_full_digest_and_signs(incident: Incident, tmp_path: Path) -> None:
    key, pub = _keypair(tmp_path, "alice")
    saved = incident.save_bundle(tmp_path / "b", key=key)
    m = json.loads((saved / "manifest.json").read_text())
    assert saved.bundle_sha256 == m["bundle_sha256"] and len(saved.bundle_sha256) == 64
    assert saved.bundle_sha256 in repr(saved)
    fp = load_public_keys(pub)[0].fingerprint
    assert saved.signed_by == fp
    check = check_bundle(saved, expect=saved.bundle_sha256, public_key=pub)
    assert check.ok, check.problems
    assert [check.checks[0].split(" (")[0], *check.checks[1:]] == [
        "intact",
        f"matches digest {saved.bundle_sha256}",
        f"signed by alice ({fp})",
    ]


def test_consistent_rewrite_fails_expect_and_signature(
    incident: Incident, tmp_path: Path, capsys
) -> None:
    key, pub = _keypair(tmp_path, "alice")
    path = incident.save_bundle(tmp_path / "b", key=key)
    digest = path.bundle_sha256
    _rewrite_consistently(path)
    assert verify_bundle(path) == []  # intact: the forgery is self-consistent
    assert main(["bundle", "verify", str(path)]) == 0
    assert main(["bundle", "verify", str(path), "--expect", digest]) == 1
    out = capsys.readouterr().out
    assert f"not the expected {digest}" in out
    assert main(["bundle", "verify", str(path), "--public-key", str(pub)]) == 1
    out = capsys.readouterr().out
    assert "the bundle was rewritten after signing" in out
    # the postmortem says what failed, not "verified"
    pm = draft(Incident.from_bundle(path, expect=digest, public_key=pub))
    header = str(pm.section("header"))
    assert "FAILED its checks" in header and "verified" not in header


def test_untouched_signed_bundle_passes_both_via_cli(
    incident: Incident, tmp_path: Path, capsys
) -> None:
    key, pub = _keypair(tmp_path, "alice")
    path = incident.save_bundle(tmp_path / "b")
    assert main(["bundle", "sign", str(path), "--key", str(key)]) == 0
    assert main(["bundle", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"bundle_sha256 {path.bundle_sha256}" in out and "signature by SHA256:" in out
    args = ["bundle", "verify", str(path), "--expect", path.bundle_sha256, "--public-key", str(pub)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"ok: matches digest {path.bundle_sha256}" in out and "ok: signed by alice" in out
    pm = draft(Incident.from_bundle(path, expect=path.bundle_sha256, public_key=pub))
    header = str(pm.section("header"))
    assert f"matches digest {path.bundle_sha256}" in header and "signed by alice" in header


def test_signed_with_another_key_fails(incident: Incident, tmp_path: Path, capsys) -> None:
    _, alice_pub = _keypair(tmp_path, "alice")
    mallory, _ = _keypair(tmp_path, "mallory")
    path = incident.save_bundle(tmp_path / "b", key=mallory)
    check = check_bundle(path, public_key=alice_pub)
    assert not check.ok and "foreign signature" in check.problems[0]
    unsigned = incident.save_bundle(tmp_path / "u")
    assert "carries no signature" in check_bundle(unsigned, public_key=alice_pub).problems[0]
    # a damaged signature by the right key
    sigs = json.loads((path / "signatures.json").read_text())
    sigs["signatures"][0]["signature"] = sigs["signatures"][0]["signature"][::-1]
    (path / "signatures.json").write_text(json.dumps(sigs))
    _, mallory_pub = tmp_path / "mallory", tmp_path / "mallory.pub"
    assert "does not verify" in check_bundle(path, public_key=mallory_pub).problems[0]


def test_a_later_save_proves_it_extends_the_earlier_log(incident: Incident, tmp_path: Path) -> None:
    first = incident.save_bundle(tmp_path / "b1")
    again = Incident.from_bundle(first)
    again.note("support confirms checkout works", kind="note", author="carol")
    second = again.save_bundle(tmp_path / "b2")
    check = check_bundle(second, extends=first.bundle_sha256)
    assert check.ok, check.problems
    assert check.checks[-1].startswith(f"extends {first.bundle_sha256} (its 2 annotations")
    # rewriting an earlier note and re-saving is refused when extension is asked for
    forged = Incident.from_bundle(first)
    forged.annotations = AnnotationLog()
    forged.note("nothing unusual", author="mallory")
    with pytest.raises(ConfigError, match="does not extend"):
        forged.save_bundle(tmp_path / "b3", extends=first)
    # and a rewritten history inside a bundle that claims to extend fails verify
    m = json.loads((second / "manifest.json").read_text())
    log = AnnotationLog.read(second / "annotations.jsonl")
    new = AnnotationLog()
    for a in log:
        new.append(a.text.replace("rolled back", "did not roll back"), at=a.at, kind=a.kind)
    new.write(second / "annotations.jsonl")
    m["annotations"].update(
        head=new.head,
        sha256=hashlib.sha256((second / "annotations.jsonl").read_bytes()).hexdigest(),
    )
    m["bundle_sha256"] = _manifest_digest(m)
    (second / "manifest.json").write_text(json.dumps(m))
    assert any("history was rewritten" in p for p in verify_bundle(second))


def test_expect_needs_a_full_digest(incident: Incident, tmp_path: Path) -> None:
    path = incident.save_bundle(tmp_path / "b")
    with pytest.raises(ConfigError, match="64 hex"):
        check_bundle(path, expect=path.bundle_sha256[:16])


def test_deeply_nested_manifest_is_bad_data(tmp_path: Path) -> None:
    from workbench import BadData

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BadData, match="nested too deeply"):
        verify_bundle(tmp_path / "b")
