"""The package's public surface and its two dependency lists."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

import workbench

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for _extra, items in meta["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("incident-workbench")]
    return {_name(r): r for r in reqs}


# conda-forge names that differ from PyPI's (checked on conda-forge's package pages):
# conda-forge's `playwright` is the Node.js tool, the Python library is `playwright-python`;
# `psycopg` there ships libpq, so the `[binary]` extra has no conda counterpart.
CONDA_TO_PYPI = {"playwright-python": "playwright"}
# conda-forge names that must never appear: they install something else.
WRONG_CONDA_NAMES = {"playwright": "the Node.js Playwright; the Python one is playwright-python"}


def _conda_requirements() -> dict[str, str]:
    """environment.yml's packages by PyPI name: conda-forge entries and the pip section."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    out: dict[str, str] = {}
    for d in env["dependencies"]:
        if isinstance(d, dict):
            for p in d.get("pip", []):
                if not p.startswith("-"):
                    out[_name(p)] = p
            continue
        name = _name(d)
        assert name not in WRONG_CONDA_NAMES, f"{d}: {WRONG_CONDA_NAMES[name]}"
        if name not in {"python", "pip"}:
            out[CONDA_TO_PYPI.get(name, name)] = d
    return out


def _spec(req: str) -> str:
    """The version part of a requirement: ``psycopg[binary]>=3.1`` -> ``>=3.1``."""
    return re.sub(r"^[A-Za-z0-9_.\-]+(\[[^\]]*\])?", "", req).strip()


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    conda = _conda_requirements()
    py = _pyproject_requirements()
    assert set(conda) == set(py), (
        f"only in pyproject: {sorted(set(py) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(py))}"
    )
    for name, req in py.items():
        assert _spec(req) == _spec(conda[name]), (
            f"{name}: pyproject says {req!r}, environment.yml {conda[name]!r}"
        )


def test_environment_yml_installs_the_python_playwright() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*playwright-python\b", text, re.M)
    assert not re.search(r"^\s*-\s*playwright\s*(>|=|$)", text, re.M)


def test_the_version_is_written_once() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"]
    assert meta["project"]["dynamic"] == ["version"]
    attr = meta["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "workbench.__version__"
    hits = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "workbench").rglob("*.py")
        if re.search(r"^__version__\s*=", p.read_text(), re.M)
    ]
    assert hits == ["workbench/__init__.py"]
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", workbench.__version__)


def test_python_dash_m_workbench_prints_the_version() -> None:
    for cmd in ([sys.executable, "-m", "workbench", "--version"],):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        assert out.stdout.strip() == f"workbench {workbench.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "workbench"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 2 and "usage: workbench" in out.stdout


def test_license_file_matches_the_declared_license() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    # PEP 639: an SPDX expression replaces the license classifier (setuptools refuses both)
    assert not [c for c in meta["classifiers"] if c.startswith("License ::")]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_public_api_is_declared_and_importable() -> None:
    assert sorted(workbench.__all__) == sorted(set(workbench.__all__))
    for name in workbench.__all__:
        assert hasattr(workbench, name), name
    public = {n for n in vars(workbench) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(workbench.__all__), (
        f"exported but not in __all__: {public - set(workbench.__all__)}"
    )


def test_core_never_imports_widgets_or_ipywidgets() -> None:
    offenders = []
    for path in (ROOT / "workbench").rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(from|import)\s+(widgets|ipywidgets)\b", text, re.M):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_importing_workbench_does_not_import_heavy_optional_parts() -> None:
    code = (
        "import sys, workbench; "
        "bad=[m for m in ('ipywidgets','psycopg','pandas','papermill','statsmodels') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
