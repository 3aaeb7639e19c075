"""Third-party sources through the ``workbench.sources`` entry-point group.

A tiny plug-in distribution is built as a wheel here, installed by pip into a temporary
``--target`` directory, and a fresh interpreter with that directory on its path loads it
from a ``workbench.toml``: by ``type =``, by a ``<type>+http://`` URL, by an alias and
Grafana type its :class:`~workbench.sources.registry.Backend` row declares. Nothing of the
plug-in is imported by this test process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from workbench.sources import registry

PLUGIN = '''
"""A plug-in source for the test: events spread over the window, one per `every`."""
from datetime import timedelta

import polars as pl

from workbench import frames
from workbench.sources.base import Source
from workbench.sources.registry import Backend


class EchoSource(Source):
    kind = "echo"
    capabilities = frozenset({"events"})

    def __init__(self, url, *, name=None, auth=None, timeout=None, count: int = 3):
        super().__init__(name=name)
        self.url, self.count = url, count

    def describe(self):
        return {**super().describe(), "url": self.url, "count": self.count}

    def events(self, window, *, services=None):
        step = (window.end - window.start) / self.count
        ts = [window.start + i * step for i in range(self.count)]
        df = pl.DataFrame({
            "ts": ts, "end": ts, "kind": ["annotation"] * self.count,
            "service": ["echo"] * self.count, "title": [f"echo {i}" for i in range(self.count)],
            "source": [self.name] * self.count,
            "attributes": [frames.kv({"url": self.url})] * self.count,
        })
        return self.result("events", df, query=None, window=window)


BACKEND = Backend(
    "echoes", "wb_echo_plugin:EchoSource", aliases={"reverb": {"count": 5}},
    grafana=("echo-datasource",), example="echoes+http://host:1",
)
'''

SCRIPT = r"""
import json, sys
from datetime import datetime, timezone
import workbench as wb
from workbench.config import load_config
from workbench.sources import registry

window = wb.Window(datetime(2026, 1, 1, tzinfo=timezone.utc),
                   datetime(2026, 1, 1, 1, tzinfo=timezone.utc))
out = {}
for name, src in sorted(load_config(sys.argv[1], env=False).items()):
    res = src.events(window)
    out[name] = {"class": type(src).__name__, "describe": src.describe(),
                 "rows": res.rows, "titles": res.frame["title"].to_list()}
out["types"] = [b.type for b in registry.backends()]
out["origin"] = registry.lookup("echo").origin
print(json.dumps(out, default=str))
"""


def _wheel(tmp: Path) -> Path:
    """A valid wheel of the plug-in (module, METADATA, WHEEL, entry_points.txt, RECORD)."""
    name, version = "wb_echo_plugin", "0.1"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": textwrap.dedent(PLUGIN).encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[workbench.sources]\necho = wb_echo_plugin:EchoSource\n"
        b"echoes = wb_echo_plugin:BACKEND\nprometheus = wb_echo_plugin:EchoSource\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = tmp / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.mark.slow
def test_entry_point_plugin_installs_and_loads_from_workbench_toml(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--disable-pip-version-check", "--target", str(site), str(_wheel(tmp_path))],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert (site / "wb_echo_plugin-0.1.dist-info" / "entry_points.txt").is_file()
    grafana = tmp_path / "ds.yaml"
    grafana.write_text(
        "apiVersion: 1\ndatasources:\n"
        "  - {name: fromgrafana, type: echo-datasource, url: 'http://g:1'}\n"
    )
    toml = tmp_path / "workbench.toml"
    toml.write_text(
        f'grafana = "{grafana.name}"\n'
        '[sources.bytype]\ntype = "echo"\nurl = "http://e:1"\ncount = 4\n'
        '[sources.byurl]\nurl = "echo+http://e:2?count=2"\n'
        '[sources.byalias]\nurl = "reverb+http://e:3"\n'
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(toml)],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["bytype"]["class"] == "EchoSource"
    assert got["bytype"]["rows"] == 4 and got["bytype"]["describe"]["url"] == "http://e:1"
    assert got["byurl"]["rows"] == 2 and got["byurl"]["describe"]["url"] == "http://e:2"
    assert got["byalias"]["rows"] == 5  # the alias's implied option
    assert got["fromgrafana"]["describe"]["url"] == "http://g:1"
    assert got["bytype"]["titles"][:2] == ["echo 0", "echo 1"]
    # plug-ins come after the built-ins and cannot take a built-in's name
    builtin = [b.type for b in registry.BUILTIN]
    assert got["types"][: len(builtin)] == builtin
    assert {"echo", "echoes"} <= set(got["types"]) and got["types"].count("prometheus") == 1
    assert got["origin"] == "plug-in wb_echo_plugin"
    assert "'prometheus' is a built-in type" in run.stderr


def test_unknown_type_names_the_entry_point_group(tmp_path: Path) -> None:
    from workbench.config import load_config
    from workbench.errors import ConfigError

    toml = tmp_path / "workbench.toml"
    toml.write_text('[sources.x]\ntype = "nosuchbackend"\nurl = "http://x:1"\n')
    with pytest.raises(ConfigError) as err:
        load_config(toml, env=False)
    assert "nosuchbackend" in str(err.value)
    assert "workbench.sources" in (err.value.hint or "")
    assert "prometheus" in (err.value.hint or "")
