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


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {
        _name(d): d
        for d in env["dependencies"]
        if isinstance(d, str) and _name(d) not in {"python", "pip"}
    }
    py = _pyproject_requirements()
    assert set(conda) == set(py), (
        f"only in pyproject: {sorted(set(py) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(py))}"
    )
    for name, req in py.items():
        spec = req[len(re.split(r"[<>=!~ ;]", req, maxsplit=1)[0]) :].strip()
        spec = (
            re.sub(r"^\[[^\]]*\]", "", req.split(name, 1)[-1]).strip()
            if spec.startswith("[")
            else spec
        )
        assert spec in conda[name], (
            f"{name}: pyproject says {req!r}, environment.yml {conda[name]!r}"
        )


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
