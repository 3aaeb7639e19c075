"""Evidence bundles: everything an incident loaded, frozen so it replays offline.

A bundle is a directory::

    manifest.json          what is inside: per frame the sources, exact queries, window,
                           row count and SHA-256; versions; incident parameters; the
                           annotation log's head hash
    frames/<signal>.parquet
    annotations.jsonl      the hash-chained annotation log
    signatures.json        optional Ed25519 signatures over bundle_sha256 (workbench.signing)

Three levels of proof, each saying exactly what it checked (:func:`check_bundle`):

* **intact** -- every frame hash, row count, the annotation chain and the manifest's own
  ``bundle_sha256`` match. Catches corruption and careless edits; *not* someone who
  rewrites a frame or a note and recomputes every hash.
* **matches digest** -- the bundle is intact and its ``bundle_sha256`` is the one you
  published elsewhere (the ticket, a chat message) when it was saved (``expect=``). Catches
  any rewrite, as long as the published digest is trusted.
* **signed by** -- a signature over the digest by a key you trust (``public_key=``,
  :mod:`workbench.signing`). Catches rewriting by anyone without the private key.

A later save of the same investigation (re-opened from its bundle, or overwriting it)
records the earlier manifest under ``extends``: it proves the new annotation log begins
with the earlier one unchanged, and ``check_bundle(..., extends=EARLIER_DIGEST)`` checks
that against a digest published earlier. None of this proves *when* a bundle was made
(``created_at`` and annotation times are what the saving machine said) or that the
sources told the truth.

A bundle is itself a source (:class:`BundleSource`), so notebooks run from it with no
backend reachable.

Example::

    >>> saved = inc.save_bundle("INC-123.bundle", key="~/.ssh/id_ed25519")
    >>> saved.bundle_sha256                   # publish this
    >>> check_bundle("INC-123.bundle", expect=saved.bundle_sha256).ok
    True
    >>> Incident.from_bundle("INC-123.bundle").logs
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
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

__all__ = [
    "FORMAT",
    "BundleCheck",
    "BundlePath",
    "BundleSource",
    "check_bundle",
    "load_manifest",
    "save_bundle",
    "verify_bundle",
]

log = logging.getLogger(__name__)
MAX_MANIFEST_BYTES = 64 << 20


class BundlePath(type(Path())):  # type: ignore[misc]  # Path's concrete class (3.11)
    """The path of a saved bundle, carrying its full ``bundle_sha256`` (shown by repr)."""

    bundle_sha256: str = ""
    signed_by: str | None = None

    def __repr__(self) -> str:
        signed = f", signed_by={self.signed_by!r}" if self.signed_by else ""
        return f"BundlePath({str(self)!r}, bundle_sha256={self.bundle_sha256!r}{signed})"


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


def _refuse_overwrite(target: Path) -> dict[str, Any] | None:
    """The manifest of the valid bundle at ``target`` that may be replaced; raises unless
    ``target`` is a directory holding an intact bundle, and not the current directory
    or one of its parents."""
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if resolved == here or resolved in here.parents:
        raise ConfigError(
            f"refusing to overwrite {target}: it is the current directory or holds it",
            hint="save the bundle to a new directory",
        )
    if not target.is_dir():
        raise ConfigError(
            f"refusing to overwrite {target}: it is not a directory",
            hint="choose another path; --overwrite only replaces an earlier bundle",
        )
    try:
        problems = verify_bundle(target)
    except BadData as exc:
        raise ConfigError(
            f"refusing to overwrite {target}: it is not an evidence bundle ({exc.message})",
            hint="--overwrite only replaces a directory holding a valid bundle; "
            "choose another path or remove it yourself",
        ) from None
    if problems:
        raise ConfigError(
            f"refusing to overwrite {target}: the bundle there does not verify ({problems[0]})",
            hint="keep it for inspection; save to another path",
        )
    return load_manifest(target)


def _extends_record(
    incident: Incident, earlier: dict[str, Any] | None, explicit: bool
) -> dict[str, Any] | None:
    """The earlier manifest this save extends, if the annotation log begins with it."""
    if earlier is None:
        return None
    ann = earlier["annotations"]
    entries = list(incident.annotations)
    count, head = ann["count"], ann["head"]
    prefix_ok = count <= len(entries) and (count == 0 or entries[count - 1].hash == head)
    if not prefix_ok:
        if explicit:
            raise ConfigError(
                f"the annotation log does not extend the earlier bundle "
                f"{earlier['bundle_sha256'][:16]}… (its {count} entries are not the start "
                f"of this log)",
                hint="save the investigation you re-opened from that bundle",
            )
        return None
    if earlier["incident"]["id"] != incident.id:
        return None
    return {
        "bundle_sha256": earlier["bundle_sha256"],
        "annotations": {"count": count, "head": head},
        "manifest": earlier,
    }


def save_bundle(
    incident: Incident,
    path: str | Path,
    *,
    overwrite: bool = False,
    key: str | Path | Any = None,
    extends: str | Path | bool | None = None,
) -> BundlePath:
    """Write every frame ``incident`` loaded, its provenance and annotations to ``path``.

    Loads any signal not loaded yet first. Refuses to overwrite an existing path unless
    ``overwrite=True``, and even then replaces only a directory holding an intact bundle
    (never the current directory). Written to a temporary directory and moved into place,
    so a crash never leaves half a bundle.

    ``key`` (an Ed25519 key file, e.g. ``~/.ssh/id_ed25519``) signs the digest.
    ``extends`` (an earlier bundle's path) records that this save extends it: its
    annotation log must begin with the earlier one. By default a save extends the bundle
    the incident was re-opened from, or the bundle it overwrites, when the log does.

    Returns the path as a :class:`BundlePath` whose ``bundle_sha256`` is the full digest
    to publish.
    """
    target = Path(path)
    earlier: dict[str, Any] | None = None
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise ConfigError(
                f"{target} already exists", hint="choose another path or pass overwrite=True"
            )
        earlier = _refuse_overwrite(target)
    explicit = isinstance(extends, (str, Path))
    if isinstance(extends, (str, Path)):
        problems = verify_bundle(extends)
        if problems:
            raise ConfigError(f"the bundle to extend, {extends}, does not verify: {problems[0]}")
        earlier = load_manifest(extends)
    elif extends is not False:
        for src in incident.sources:
            if isinstance(src, BundleSource) and not src.problems:
                earlier = src.manifest
                break
    else:
        earlier = None
    extends_rec = _extends_record(incident, earlier, explicit)
    private = None
    if key is not None:  # fail before any work if the key is unusable
        from workbench.signing import load_private_key

        private = load_private_key(key) if isinstance(key, (str, Path)) else key
    incident.load()
    tmp = Path(
        tempfile.mkdtemp(prefix=".bundle-", dir=target.parent if target.parent.exists() else None)
    )
    try:
        (tmp / "frames").mkdir()
        entries = []
        for sig in SIGNALS:
            # a lean load (spans/logs without the attributes no view reads) is read
            # again in full: the bundle keeps the evidence whole
            lean = incident.attributes_held(sig) != "all"
            df = incident.with_attributes(sig) if lean else incident.frame(sig)
            file = tmp / "frames" / f"{sig}.parquet"
            df.write_parquet(file, compression="zstd", statistics=True)
            provenance = [
                {
                    **{k: v for k, v in o.row().items() if k != "elapsed_s"},
                    "query": o.result.query if o.result else None,
                    "window": str(o.result.window) if o.result and o.result.window else None,
                    "warnings": list(o.result.warnings) if o.result else [],
                    **({"attributes": "read again in full for the bundle"} if lean else {}),
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
        if extends_rec is not None:
            manifest["extends"] = extends_rec
        manifest["bundle_sha256"] = _manifest_digest(manifest)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        signed_by = None
        if private is not None:
            from workbench.signing import sign_bundle

            signed_by = sign_bundle(tmp, key=private)
        if target.exists():
            old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
            target.rename(old)  # a valid bundle (checked above); removed once replaced
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out = BundlePath(target)
    out.bundle_sha256 = manifest["bundle_sha256"]
    out.signed_by = signed_by
    log.info("saved bundle %s bundle_sha256 %s", target, out.bundle_sha256)
    return out


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check a bundle's manifest."""
    from workbench.limits import parse_guard, read_capped

    p = Path(path) / "manifest.json"
    try:
        with parse_guard("bundle", what="manifest.json", path=str(p)):
            manifest = json.loads(read_capped(p, source="bundle", cap=MAX_MANIFEST_BYTES))
    except UnicodeDecodeError as exc:
        raise BadData(f"manifest is not UTF-8 text: {exc}", path=str(p)) from None
    except (FileNotFoundError, NotADirectoryError):
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
        problems += _extends_problems(manifest, list(log))
    return problems


def _earlier_manifests(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifests this one extends, newest first (each embedded in the next)."""
    out = []
    m = manifest
    while isinstance(m.get("extends"), dict) and isinstance(m["extends"].get("manifest"), dict):
        m = m["extends"]["manifest"]
        out.append(m)
        if len(out) > 1000:
            break
    return out


def _extends_problems(manifest: dict[str, Any], entries: list[Any]) -> list[str]:
    """Whether the recorded earlier bundles are genuine and the log begins with theirs."""
    problems = []
    for m in _earlier_manifests(manifest):
        digest = m.get("bundle_sha256")
        if _manifest_digest(m) != digest:
            problems.append(
                f"extends: the recorded earlier manifest {str(digest)[:16]}… was edited"
            )
            continue
        ann = m.get("annotations") or {}
        count, head = ann.get("count"), ann.get("head")
        if not isinstance(count, int) or count > len(entries):
            problems.append(
                f"extends {str(digest)[:16]}…: that bundle had {count} annotations, this "
                f"log has {len(entries)} (entries were removed)"
            )
        elif count and entries[count - 1].hash != head:
            problems.append(
                f"extends {str(digest)[:16]}…: the first {count} annotations differ from "
                "that bundle's (history was rewritten)"
            )
    return problems


@dataclass
class BundleCheck:
    """What :func:`check_bundle` checked (``checks``, in words) and what failed."""

    path: str
    digest: str
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line naming exactly what was checked, never just "verified"."""
        if self.problems:
            return f"FAILED: {'; '.join(self.problems[:3])}"
        return "; ".join(self.checks)


def check_bundle(
    path: str | Path,
    *,
    expect: str | None = None,
    public_key: str | Path | None = None,
    extends: str | None = None,
) -> BundleCheck:
    """Check a bundle at every level asked for, and say what was checked.

    * always: intact (hashes, row counts, chain, manifest digest);
    * ``expect``: its ``bundle_sha256`` is exactly this (full 64-hex) digest;
    * ``public_key``: a valid signature over the digest by one of these keys;
    * ``extends``: it extends the earlier bundle with this digest (the earlier
      annotation log is the unchanged start of this one).

    >>> check_bundle("INC-123.bundle", expect="9f2c...", public_key="alice.pub").summary()
    'intact; matches digest 9f2c...; signed by alice (SHA256:...)'
    """
    root = Path(path)
    manifest = load_manifest(root)
    digest = str(manifest.get("bundle_sha256", ""))
    out = BundleCheck(str(root), digest)
    problems = verify_bundle(root)
    if problems:
        out.problems += problems
    else:
        out.checks.append("intact (every frame hash, row count and the annotation chain match)")
    if expect is not None:
        want = expect.strip().lower()
        if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
            raise ConfigError(
                f"expected digest {expect!r} is not a full SHA-256 (64 hex digits)",
                hint="give the whole bundle_sha256 printed when the bundle was saved",
            )
        if digest != want or problems or _manifest_digest(manifest) != want:
            out.problems.append(
                f"digest is {digest}, not the expected {want} (the bundle was changed or "
                "rewritten since that digest was published)"
            )
        else:
            out.checks.append(f"matches digest {want}")
    if public_key is not None:
        from workbench.signing import check_signatures

        sig_problems, signers = check_signatures(
            root, public_key=public_key, digest=_manifest_digest(manifest)
        )
        if sig_problems:
            out.problems += sig_problems
        else:
            out.signers = signers
            out.checks.append("signed by " + ", ".join(signers))
    if extends is not None:
        want = extends.strip().lower()
        earlier = [m for m in _earlier_manifests(manifest) if m.get("bundle_sha256") == want]
        if not earlier:
            out.problems.append(f"does not record that it extends bundle {want[:16]}…")
        elif not problems:
            count = earlier[0]["annotations"]["count"]
            out.checks.append(
                f"extends {want} (its {count} annotations unchanged at the start of the log)"
            )
    return out


class BundleSource(Source):
    """Serve the frames of an evidence bundle, filtered to the asked window.

    Example::

        >>> src = BundleSource("INC-123.bundle")
        >>> src.logs(None, window).frame
    """

    kind = "bundle"
    capabilities = frozenset(SIGNALS)

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        verify: bool = True,
        expect: str | None = None,
        public_key: str | Path | None = None,
    ) -> None:
        super().__init__(name=name or "bundle")
        self.path = Path(path)
        self.manifest = load_manifest(self.path)
        self.problems: list[str] = []
        #: what was checked, in words ("intact ...", "matches digest ...", "signed by ...")
        self.checks: list[str] = []
        if verify or expect or public_key:
            check = check_bundle(self.path, expect=expect, public_key=public_key)
            self.problems, self.checks = check.problems, check.checks
        self._files = {e["signal"]: self.path / e["file"] for e in self.manifest["frames"]}

    def _load(self, signal: str, window: Window, services: Sequence[str] | None) -> Result:
        with Timer() as t:
            file = self._files.get(signal)
            if file is None:
                df = frames.empty(signal)
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
            "checks": list(self.checks),
        }
