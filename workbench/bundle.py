"""Evidence bundles: everything an incident loaded, frozen so it replays offline.

A bundle is a directory::

    manifest.json          what is inside: per frame the sources, exact queries, window,
                           row count and SHA-256; versions; incident parameters; the
                           annotation log's head hash
    frames/<signal>.parquet
    annotations.jsonl      the hash-chained annotation log

:func:`verify_bundle` recomputes every hash and the chain and names exactly what changed.
A bundle is itself a source (:class:`BundleSource`), so notebooks run from it with no
backend reachable. Hashes prove integrity against the manifest; to prove the manifest
itself was not rewritten, publish its ``bundle_sha256`` (printed by ``save``) where the
incident is tracked.

Example::

    >>> inc.save_bundle("INC-123.bundle")
    >>> verify_bundle("INC-123.bundle")      # [] when intact
    >>> Incident.from_bundle("INC-123.bundle").logs
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from workbench import frames
from workbench.annotations import AnnotationLog
from workbench.errors import BadData, ConfigError
from workbench.sources.base import Result, Source, Timer
from workbench.timewindow import Window

if TYPE_CHECKING:
    from workbench.incident import Incident

__all__ = ["FORMAT", "BundleSource", "load_manifest", "save_bundle", "verify_bundle"]

FORMAT = "incident-workbench-bundle/1"
SIGNALS = ("metrics", "logs", "spans", "events")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import altair
    import pyarrow

    from workbench import __version__

    return {
        "workbench": __version__,
        "polars": pl.__version__,
        "pyarrow": pyarrow.__version__,
        "altair": altair.__version__,
        "python": platform.python_version(),
    }


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "bundle_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_bundle(incident: Incident, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write every frame ``incident`` loaded, its provenance and annotations to ``path``.

    Loads any signal not loaded yet first. Refuses to overwrite an existing bundle unless
    ``overwrite=True``. Returns the bundle path. Written to a temporary directory and
    moved into place, so a crash never leaves half a bundle.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise ConfigError(
            f"{target} already exists", hint="choose another path or pass overwrite=True"
        )
    incident.load()
    tmp = Path(
        tempfile.mkdtemp(prefix=".bundle-", dir=target.parent if target.parent.exists() else None)
    )
    try:
        (tmp / "frames").mkdir()
        entries = []
        for sig in SIGNALS:
            df = incident.frame(sig)
            file = tmp / "frames" / f"{sig}.parquet"
            df.write_parquet(file, compression="zstd", statistics=True)
            provenance = [
                {
                    **{k: v for k, v in o.row().items() if k != "elapsed_s"},
                    "query": o.result.query if o.result else None,
                    "window": str(o.result.window) if o.result and o.result.window else None,
                    "warnings": list(o.result.warnings) if o.result else [],
                }
                for (_, s), o in sorted(incident.outcomes.items())
                if s == sig
            ]
            entries.append(
                {
                    "signal": sig,
                    "file": f"frames/{sig}.parquet",
                    "rows": df.height,
                    "sha256": _sha256(file),
                    "sources": provenance,
                }
            )
        incident.annotations.write(tmp / "annotations.jsonl")
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "window": str(incident.window),
                "baseline": str(incident.baseline),
                "services": incident.services,
            },
            "versions": _versions(),
            "sources": [s.describe() for s in incident.sources],
            "partial": incident.partial,
            "frames": entries,
            "annotations": {
                "file": "annotations.jsonl",
                "count": len(incident.annotations),
                "head": incident.annotations.head,
                "sha256": _sha256(tmp / "annotations.jsonl"),
            },
        }
        manifest["bundle_sha256"] = _manifest_digest(manifest)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check a bundle's manifest."""
    p = Path(path) / "manifest.json"
    try:
        manifest = json.loads(p.read_text())
    except FileNotFoundError:
        raise BadData(
            f"{Path(path)} is not an evidence bundle (no manifest.json)",
            path=str(p),
            hint="pass the directory that `workbench bundle save` wrote",
        ) from None
    except json.JSONDecodeError as exc:
        raise BadData(f"manifest is not valid JSON: {exc}", path=str(p), line=exc.lineno) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadData(
            f"unknown bundle format {manifest.get('format') if isinstance(manifest, dict) else None!r}",
            path=str(p),
            field="format",
            hint=f"this workbench reads {FORMAT}",
        )
    _check_shape(manifest, p)
    return manifest


_SHAPE: dict[str, dict[str, type]] = {
    "incident": {"id": str, "window": str, "baseline": str},
    "annotations": {"file": str, "count": int, "head": str, "sha256": str},
}
_FRAME_SHAPE: dict[str, type] = {
    "signal": str,
    "file": str,
    "rows": int,
    "sha256": str,
    "sources": list,
}


def _check_shape(manifest: dict[str, Any], p: Path) -> None:
    """Refuse a manifest whose structure is not what ``save_bundle`` writes."""

    def need(obj: object, fields: dict[str, type], where: str) -> None:
        if not isinstance(obj, dict):
            raise BadData(f"manifest {where} is not an object", path=str(p), field=where)
        for key, typ in fields.items():
            value = obj.get(key)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise BadData(
                    f"manifest {where}.{key} is missing or has the wrong type",
                    path=str(p),
                    field=f"{where}.{key}",
                    hint="the manifest was damaged or edited; restore it from a copy",
                )

    for key, fields in _SHAPE.items():
        need(manifest.get(key), fields, key)
    frames_list = manifest.get("frames")
    if not isinstance(frames_list, list):
        raise BadData("manifest frames is not a list", path=str(p), field="frames")
    for i, entry in enumerate(frames_list):
        need(entry, _FRAME_SHAPE, f"frames[{i}]")
        if (
            entry["signal"] not in SIGNALS
            or not entry["file"].startswith("frames/")
            or ".." in entry["file"]
        ):
            raise BadData(
                f"manifest frames[{i}] names an unknown signal or a file outside frames/",
                path=str(p),
                field=f"frames[{i}]",
            )
        for s in entry["sources"]:
            need(s, {"source": str, "status": str}, f"frames[{i}].sources")


def verify_bundle(path: str | Path) -> list[str]:
    """Check every hash, row count and the annotation chain. Returns the problems found,
    each naming exactly what changed; an empty list means the bundle is intact."""
    root = Path(path)
    manifest = load_manifest(root)
    problems: list[str] = []
    if manifest.get("bundle_sha256") != _manifest_digest(manifest):
        problems.append(
            "manifest.json was edited after the bundle was saved (bundle_sha256 differs)"
        )
    listed = set()
    for entry in manifest["frames"]:
        file = root / entry["file"]
        listed.add(entry["file"])
        if not file.exists():
            problems.append(f"{entry['file']}: missing")
            continue
        digest = _sha256(file)
        if digest != entry["sha256"]:
            problems.append(
                f"{entry['file']}: content changed (sha256 {digest[:12]}…, manifest "
                f"{entry['sha256'][:12]}…)"
            )
            continue
        rows = pl.scan_parquet(file).select(pl.len()).collect().item()
        if rows != entry["rows"]:
            problems.append(f"{entry['file']}: {rows} rows, manifest says {entry['rows']}")
    for extra in sorted((root / "frames").glob("*.parquet")):
        rel = f"frames/{extra.name}"
        if rel not in listed:
            problems.append(f"{rel}: not in the manifest (added after saving)")
    ann = manifest["annotations"]
    ann_file = root / ann["file"]
    if not ann_file.exists():
        problems.append(f"{ann['file']}: missing")
    else:
        if _sha256(ann_file) != ann.get("sha256"):
            problems.append(f"{ann['file']}: content changed since the bundle was saved")
        log = AnnotationLog.read(ann_file)
        problems += log.verify(expected_head=ann["head"], expected_count=ann["count"])
    return problems


class BundleSource(Source):
    """Serve the frames of an evidence bundle, filtered to the asked window.

    Example::

        >>> src = BundleSource("INC-123.bundle")
        >>> src.logs(None, window).frame
    """

    kind = "bundle"
    capabilities = frozenset(SIGNALS)

    def __init__(self, path: str | Path, *, name: str | None = None, verify: bool = True) -> None:
        super().__init__(name=name or "bundle")
        self.path = Path(path)
        self.manifest = load_manifest(self.path)
        self.problems = verify_bundle(self.path) if verify else []
        self._files = {e["signal"]: self.path / e["file"] for e in self.manifest["frames"]}

    def _load(self, signal: str, window: Window, services: Sequence[str] | None) -> Result:
        with Timer() as t:
            file = self._files.get(signal)
            if file is None:
                df = frames.empty(signal)  # type: ignore[arg-type]
            else:
                col = "start" if signal == "spans" else "ts"
                lf = pl.scan_parquet(file).filter(
                    (pl.col(col) >= window.start) & (pl.col(col) < window.end)
                )
                if services:
                    lf = lf.filter(pl.col("service").is_in(list(services)))
                df = lf.collect()
        recorded = (
            next(e for e in self.manifest["frames"] if e["signal"] == signal) if file else None
        )
        reasons = []
        if recorded:
            reasons = [
                f"when saved, {s['source']} {signal} was {s['status']}: {s['detail']}"
                for s in recorded["sources"]
                if s["status"] not in ("ok", "empty")  # empty: saved whole, with no rows
            ]
        if self.problems:
            reasons.append("bundle failed verification: " + "; ".join(self.problems[:3]))
        return self.result(
            signal,
            df,
            query=f"bundle:{signal}",
            window=window,
            reasons=reasons,
            elapsed_s=t.elapsed,
        )

    def metrics(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        return self._load("metrics", window, services)

    def logs(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        return self._load("logs", window, services)

    def spans(
        self, query: str | None, window: Window, *, services: Sequence[str] | None = None
    ) -> Result:
        return self._load("spans", window, services)

    def events(self, window: Window, *, services: Sequence[str] | None = None) -> Result:
        return self._load("events", window, services)

    def annotations(self) -> AnnotationLog:
        return AnnotationLog.read(self.path / self.manifest["annotations"]["file"])

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "path": str(self.path),
            "incident": self.manifest["incident"]["id"],
            "verified": not self.problems,
        }
