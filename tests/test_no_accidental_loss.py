"""Nothing destroyed by accident (issue 15, part 4): ``--overwrite`` replaces only a
valid bundle and never the current directory; re-rendering never overwrites an edited
notebook; ``workbench schema load`` twice does not duplicate rows."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.test_bundle import T0, FrameSource, _logs
from workbench import ConfigError, Incident, Window
from workbench.cli import main
from workbench.notebook import draft_state


@pytest.fixture
def incident() -> Incident:
    w = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    return Incident("INC-O", w, sources=[FrameSource(_logs())])


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_overwrite_refuses_a_directory_that_is_not_a_bundle(
    incident: Incident, tmp_path: Path
) -> None:
    d = tmp_path / "thesis"
    (d / "chapters").mkdir(parents=True)
    (d / "chapters" / "one.tex").write_text("years of work")
    (d / "manifest.json").write_text("{}")
    before = _tree(d)
    with pytest.raises(ConfigError, match="not an evidence bundle"):
        incident.save_bundle(d, overwrite=True)
    assert _tree(d) == before
    f = tmp_path / "notes.txt"
    f.write_text("keep")
    with pytest.raises(ConfigError, match="not a directory"):
        incident.save_bundle(f, overwrite=True)
    assert f.read_text() == "keep"


def test_overwrite_never_replaces_the_current_directory(
    incident: Incident, tmp_path: Path, monkeypatch
) -> None:
    saved = incident.save_bundle(tmp_path / "b")
    monkeypatch.chdir(saved)  # even a valid bundle, when it is where we stand
    with pytest.raises(ConfigError, match="current directory"):
        incident.save_bundle(Path("."), overwrite=True)
    monkeypatch.chdir(saved / "frames")  # or holds where we stand
    with pytest.raises(ConfigError, match="current directory"):
        incident.save_bundle(saved, overwrite=True)
    assert (saved / "manifest.json").exists()


def test_overwrite_replaces_a_valid_bundle_and_a_damaged_one_is_kept(
    incident: Incident, tmp_path: Path, capsys
) -> None:
    first = incident.save_bundle(tmp_path / "b")
    incident.note("later note")
    second = incident.save_bundle(tmp_path / "b", overwrite=True)
    assert second.bundle_sha256 != first.bundle_sha256
    m = json.loads((second / "manifest.json").read_text())
    assert m["extends"]["bundle_sha256"] == first.bundle_sha256  # overwriting extends it
    (second / "annotations.jsonl").write_text("damaged\n")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        incident.save_bundle(second, overwrite=True)
    assert (second / "annotations.jsonl").read_text() == "damaged\n"
    # the CLI says it too, and exits non-zero
    d = tmp_path / "photos"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"\xff\xd8")
    assert main(["bundle", "save", str(d), "--demo", "--overwrite"]) == 1
    assert "not an evidence bundle" in capsys.readouterr().err
    assert (d / "a.jpg").read_bytes() == b"\xff\xd8"


def _tiny_notebook(path: Path) -> Path:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]},
             "execution_count": None, "source": "who = 'nobody'", "outputs": []},
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Draft"},
            {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": None,
             "source": "print('drafted for', who)", "outputs": []},
        ],
    }  # fmt: skip
    path.write_text(json.dumps(nb))
    return path


def test_rerendering_never_overwrites_an_edited_notebook(tmp_path: Path, capsys) -> None:
    src = _tiny_notebook(tmp_path / "pm.ipynb")
    out = tmp_path / "out" / "INC-1.md"
    args = ["render", str(src), "--execute", "-p", "who", "alice", "--to", "md", "--out", str(out)]
    assert main(args) == 0
    executed = out.with_suffix(".ipynb")
    assert draft_state(executed) == "unedited"
    assert main(args) == 0  # an untouched draft is simply redrafted
    nb = json.loads(executed.read_text())
    nb["cells"][1]["source"] = "# Postmortem\n\nWhat really happened: the cache expired."
    executed.write_text(json.dumps(nb))
    edited = executed.read_bytes()
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "was edited since it was drafted" in err and "--force" in err
    assert executed.read_bytes() == edited
    assert main([*args, "--force"]) == 0
    assert draft_state(executed) == "unedited" and executed.read_bytes() != edited
    # a notebook the workbench never wrote is not replaced either
    executed.write_text(json.dumps({"cells": [], "metadata": {}}))
    assert main(args) == 1 and "not written by" in capsys.readouterr().err


@pytest.mark.service
def test_schema_load_twice_refuses_then_replaces(
    postgres_server, lab_demo_dir, monkeypatch, capsys, pg_admin
) -> None:
    monkeypatch.setenv("WB_TEST_PGPW", postgres_server.password)
    schema = "cli_twice"
    args = ["--schema", schema, "--password-env", "WB_TEST_PGPW"]
    load = ["schema", "load", postgres_server.url, str(lab_demo_dir), *args]

    def counts() -> dict[str, int]:
        return {
            t: pg_admin.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]
            for t in ("metrics", "logs", "spans", "events")
        }

    try:
        assert main(load) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["action"] == "loaded"
        after_one = counts()
        assert after_one == first["rows"]
        assert main(load) == 1
        err = capsys.readouterr().err
        assert "already loaded" in err and "nothing was written" in err and "--replace" in err
        assert counts() == after_one
        assert main([*load, "--replace"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["action"] == "replaced" and counts() == after_one
    finally:
        pg_admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert os.environ["WB_TEST_PGPW"] not in json.dumps(first)
