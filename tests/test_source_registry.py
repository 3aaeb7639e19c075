"""The backend registry is the one place backends are named, and every row of it works."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import workbench
from workbench.config_spec import spec_from_url
from workbench.errors import ConfigError
from workbench.sources import registry
from workbench.sources.base import Source
from workbench.sources.capabilities import CapacityAggregation

ROOT = Path(__file__).resolve().parents[1]


def test_every_row_imports_a_source_class_and_its_hooks() -> None:
    names: list[str] = []
    for b in registry.BUILTIN:
        names += list(b.names())
        cls = registry.load_class(b.type)
        assert isinstance(cls, type) and issubclass(cls, Source), b.type
        if b.file_target:
            assert issubclass(registry.load_class(b.type, single_file=True), Source)
        if b.grafana_options:
            assert callable(registry.load_object(b.grafana_options, backend=b))
        for export in b.exports:
            assert getattr(workbench, export) is registry.export(export)
            assert export in workbench.__all__
    assert len(names) == len(set(names)), "a name is used twice"


@pytest.mark.parametrize(
    ("url", "kind", "options"),
    [
        ("thanos+https://t:10902", "prometheus", {"flavor": "thanos"}),
        ("vm+http://v:8428", "prometheus", {"flavor": "victoriametrics"}),
        ("loki+http://l:3100?limit=7", "loki", {"limit": 7}),
        ("postgresql://wb@db/telemetry", "postgres", {}),
        ("timescale://wb@db/telemetry", "postgres", {}),
        ("files:///tmp/x", "files", {}),
    ],
)
def test_urls_resolve_through_the_registry(url: str, kind: str, options: dict) -> None:
    spec = spec_from_url(url)
    assert spec.type == kind
    assert options.items() <= spec.options.items()


def test_a_prefix_on_a_dsn_backend_is_refused_with_its_own_form() -> None:
    with pytest.raises(ConfigError) as err:
        spec_from_url("postgres+http://db:5432")
    assert "postgres://user@host/db" in (err.value.hint or "")


def test_capacity_is_a_capability_of_the_metric_stores() -> None:
    have = {
        b.type
        for b in registry.BUILTIN
        if issubclass(registry.load_class(b.type), CapacityAggregation)
    }
    assert have == {"prometheus", "postgres", "files"}


def _code_strings(path: Path) -> set[str]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    }


@pytest.mark.parametrize(
    "module",
    ["config_spec.py", "config.py", "config_grafana.py", "capacity.py", "__init__.py"],
)
def test_no_backend_is_spelled_outside_the_registry(module: str) -> None:
    names = {n for b in registry.BUILTIN for n in b.names()} | {
        s for b in registry.BUILTIN for s in b.schemes
    }
    found = {
        s for s in _code_strings(ROOT / "workbench" / module) if s.lower().strip(":/+") in names
    }
    if module == "config_grafana.py":
        found.discard("file")  # Grafana's $__file{...} reference, not the files backend
    imports = (ROOT / "workbench" / module).read_text()
    assert found == set(), f"{module} names backends: {found}"
    assert "workbench.sources.prometheus" not in imports
    assert "workbench.sources.postgres" not in imports
