"""Where Grafana is: the ``[grafana]`` table of ``workbench.toml`` or environment variables.

``workbench.toml``::

    [grafana]
    url = "https://grafana.example.com"
    org_id = 1                               # optional (default 1)
    token_env = "GRAFANA_TOKEN"              # the variable holding a service-account token
    provisioning = "/etc/grafana/provisioning/datasources/ds.yaml"   # optional: UIDs (and
                                             # its datasources become sources, as before)
    prometheus_uid = "prom"                  # optional: override or instead of provisioning
    loki_uid = "loki"
    tempo_uid = "tempo"
    loki_label = "service_name"              # the Loki stream label naming the service
    preset = "otel"                          # the metric naming behind prometheus_uid
    annotations = true                       # read annotations in the window as events

The token never sits in the file: ``token_env`` names the variable (``token = {env =
"NAME"}`` is accepted too), read only when annotations are read or written. A literal
``token = "..."``, an unknown key or a value of the wrong type is a
:class:`~workbench.errors.ConfigError` naming the key. ``grafana = "path.yaml"`` (a path
or a list of paths, the older form) still only imports the provisioning file's sources.

Environment (for the demo notebook, or where no file is used)::

    WORKBENCH_GRAFANA_URL=https://grafana.example.com
    WORKBENCH_GRAFANA_PROMETHEUS_UID=prom  WORKBENCH_GRAFANA_LOKI_UID=loki
    WORKBENCH_GRAFANA_TEMPO_UID=tempo      WORKBENCH_GRAFANA_ORG_ID=1
    WORKBENCH_GRAFANA_TOKEN=...            # read when annotations are read or written

Like every ``WORKBENCH_<NAME>_URL``, ``WORKBENCH_GRAFANA_URL`` also defines a source named
``grafana`` (its annotations as events) when sources are read from a configuration
(:func:`workbench.config.load_config`); the embedded demo reads none.

Example::

    >>> from workbench.grafana_config import load_grafana
    >>> g = load_grafana("workbench.toml")   # None when neither file nor environment has one
    >>> inc = open_incident(..., sources_config="workbench.toml")   # inc.grafana is set
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.grafana_links import Grafana

__all__ = [
    "GRAFANA_KEYS",
    "TABLE",
    "annotations_spec",
    "grafana_from_env",
    "grafana_from_table",
    "load_grafana",
    "uids_from",
]

#: the workbench.toml table (and the name and type of the annotations source it adds)
TABLE = "grafana"

GRAFANA_KEYS = frozenset(
    {"url", "org_id", "token_env", "token", "provisioning", "prometheus_uid", "loki_uid",
     "tempo_uid", "loki_label", "preset", "annotations"}
)  # fmt: skip
_STRINGS = ("url", "token_env", "prometheus_uid", "loki_uid", "tempo_uid", "loki_label", "preset")
#: Grafana data-source types per link kind (provisioning files name these)
_TYPES = {
    "prometheus": ("prometheus",),
    "loki": ("loki",),
    "tempo": ("tempo",),
}


def _paths(value: Any, *, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{where}: provisioning must be a path or a list of paths")


def uids_from(path: str | Path) -> dict[str, str]:
    """``{"prometheus": uid, "loki": uid, "tempo": uid}`` from a Grafana datasource
    provisioning file: per type the ``isDefault`` one, else the first, that has a ``uid``."""
    from workbench.limits import load_yaml, read_capped

    p = Path(path).expanduser()
    try:
        text = read_capped(p, source="grafana provisioning", cap=16 << 20).decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from None
    doc = load_yaml(text, where=str(p), error=ConfigError)
    items = doc.get("datasources") if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        raise ConfigError(f"{p} is not a Grafana datasource provisioning file",
                          hint="expected apiVersion: 1 and a datasources: list")  # fmt: skip
    out: dict[str, str] = {}
    for kind, types in _TYPES.items():
        found = [d for d in items if isinstance(d, Mapping) and d.get("type") in types
                 and d.get("uid")]  # fmt: skip
        found.sort(key=lambda d: not d.get("isDefault"))
        if found:
            out[kind] = str(found[0]["uid"])
    return out


def grafana_from_table(
    table: Any, *, origin: str = "workbench.toml", base_dir: Path | None = None
) -> tuple[Grafana, bool, list[str]]:
    """``(Grafana, read annotations?, provisioning paths)`` from a ``[grafana]`` table."""
    where = f"{origin}: [grafana]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - GRAFANA_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: {', '.join(map(repr, unknown))} is not a setting",
            hint=f"the keys are {', '.join(sorted(GRAFANA_KEYS))}",
        )
    for key in _STRINGS:
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where}: {key} must be a string, not {table[key]!r}")
    if "url" not in table:
        raise ConfigError(f"{where}: url is missing",
                          hint='url = "https://grafana.example.com"')  # fmt: skip
    token_env = table.get("token_env")
    if "token" in table:
        tok = table["token"]
        if not (isinstance(tok, Mapping) and set(tok) == {"env"} and isinstance(tok["env"], str)):
            raise ConfigError(
                f'{where}: token must be a reference {{env = "NAME"}}, never the token itself',
                hint='token_env = "GRAFANA_TOKEN" and export GRAFANA_TOKEN=...',
            )
        token_env = tok["env"]
    org = table.get("org_id", 1)
    if not isinstance(org, int) or isinstance(org, bool):
        raise ConfigError(f"{where}: org_id must be an integer, not {org!r}")
    annotations = table.get("annotations", True)
    if not isinstance(annotations, bool):
        raise ConfigError(f"{where}: annotations must be true or false, not {annotations!r}")
    paths = _paths(table["provisioning"], where=where) if "provisioning" in table else []
    base = base_dir or Path(".")
    paths = [str(base / p) if not Path(p).expanduser().is_absolute() else p for p in paths]
    uids: dict[str, str] = {}
    for p in paths:
        for kind, uid in uids_from(p).items():
            uids.setdefault(kind, uid)
    if table.get("preset"):
        from workbench.sources.prometheus.presets import preset

        try:
            preset(table["preset"])
        except ConfigError as exc:
            raise ConfigError(f"{where}: preset: {exc.message}", hint=exc.hint) from None
    try:
        g = Grafana(
            table["url"],
            prometheus_uid=table.get("prometheus_uid") or uids.get("prometheus"),
            loki_uid=table.get("loki_uid") or uids.get("loki"),
            tempo_uid=table.get("tempo_uid") or uids.get("tempo"),
            org_id=org,
            token_env=token_env,
            loki_label=table.get("loki_label", "service_name"),
            preset=table.get("preset"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    return g, annotations, paths


def annotations_spec(g: Grafana, *, origin: str) -> Any:
    """The annotations source of a ``[grafana]`` table (its annotations as events), as a
    :class:`~workbench.config_spec.SourceSpec` named ``grafana``; the token by reference."""
    from workbench.config_spec import spec_from_mapping

    table: dict[str, Any] = {"type": TABLE, "url": g.url, "org_id": g.org_id}
    if g.token_env:
        table["bearer"] = {"env": g.token_env}
    return spec_from_mapping(TABLE, table, origin=origin)


def grafana_from_env(environ: Mapping[str, str] | None = None) -> Grafana | None:
    """A :class:`Grafana` from ``WORKBENCH_GRAFANA_URL`` and friends (module doc), or None."""
    env = os.environ if environ is None else environ
    url = env.get("WORKBENCH_GRAFANA_URL", "").strip()
    if not url:
        return None
    org = env.get("WORKBENCH_GRAFANA_ORG_ID", "1").strip() or "1"
    if not org.isdigit():
        raise ConfigError(f"WORKBENCH_GRAFANA_ORG_ID must be a positive integer, not {org!r}")
    try:
        return Grafana(
            url,
            prometheus_uid=env.get("WORKBENCH_GRAFANA_PROMETHEUS_UID") or None,
            loki_uid=env.get("WORKBENCH_GRAFANA_LOKI_UID") or None,
            tempo_uid=env.get("WORKBENCH_GRAFANA_TEMPO_UID") or None,
            org_id=int(org),
            token_env="WORKBENCH_GRAFANA_TOKEN" if "WORKBENCH_GRAFANA_TOKEN" in env else None,
        )
    except ConfigError as exc:
        raise ConfigError(f"WORKBENCH_GRAFANA_URL: {exc.message}", hint=exc.hint) from None


def load_grafana(path: str | Path | None = None, *, env: bool = True) -> Grafana | None:
    """The Grafana of a ``workbench.toml`` (its ``[grafana]`` table), else of the
    environment (``env=True``), else None."""
    if path:
        p = Path(path).expanduser()
        if p.suffix.lower() == ".toml" and p.is_file():
            try:
                data = tomllib.loads(p.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {p}: {exc}") from None
            if isinstance(data.get(TABLE), Mapping):
                return grafana_from_table(data[TABLE], origin=str(p), base_dir=p.parent)[0]
    return grafana_from_env() if env else None
