"""``workbench bundle save|verify|show``: evidence bundles from the command line."""

from __future__ import annotations

import argparse
import json

from workbench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bundle", help="save, verify or show an evidence bundle")
    bsub = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    save = bsub.add_parser("save", help="load an incident and freeze it into a bundle")
    save.add_argument("out", help="bundle directory to write")
    src = save.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="the embedded demo incident")
    src.add_argument("--dir", help="a directory of telemetry files (e.g. a lab scenario)")
    save.add_argument("--window", help="START..END (default: the directory's scenario.json)")
    save.add_argument("--overwrite", action="store_true")
    save.set_defaults(func=_save)

    verify = bsub.add_parser("verify", help="check every hash and the annotation chain")
    verify.add_argument("path")
    verify.set_defaults(func=_verify)

    show = bsub.add_parser("show", help="print a bundle's manifest summary")
    show.add_argument("path")
    show.set_defaults(func=_show)


def _save(args: argparse.Namespace) -> int:
    from workbench.incident import Incident
    from workbench.timewindow import Window

    if args.demo:
        inc = Incident.demo()
    else:
        window = Window.parse(args.window) if args.window else None
        inc = Incident.from_directory(args.dir, window=window)
    path = inc.save_bundle(args.out, overwrite=args.overwrite)
    manifest = json.loads((path / "manifest.json").read_text())
    for entry in manifest["frames"]:
        print(f"{entry['signal']:8} {entry['rows']:>10,} rows  sha256 {entry['sha256'][:16]}…")
    print(f"bundle {path}  bundle_sha256 {manifest['bundle_sha256']}")
    if manifest["partial"]:
        print("warning: some sources failed or were partial; see the manifest")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from workbench.bundle import verify_bundle

    problems = verify_bundle(args.path)
    if not problems:
        print(f"{args.path}: intact (every frame hash, row count and the annotation chain match)")
        return 0
    for p in problems:
        print(f"CHANGED: {p}")
    return 1


def _show(args: argparse.Namespace) -> int:
    from workbench.bundle import load_manifest

    m = load_manifest(args.path)
    inc = m["incident"]
    if not isinstance(inc, dict):
        raise ConfigError("manifest incident entry is malformed")
    print(f"{inc['id']}: {inc.get('title')}\nwindow {inc['window']}\nbaseline {inc['baseline']}")
    for entry in m["frames"]:
        print(f"{entry['signal']:8} {entry['rows']:>10,} rows")
    print(f"annotations: {m['annotations']['count']}  head {m['annotations']['head'][:16]}…")
    return 0
