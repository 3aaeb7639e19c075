"""``workbench bundle save|verify|sign|show``: evidence bundles from the command line.

::

    workbench bundle save OUT --dir DIR [--key ~/.ssh/id_ed25519]   # prints bundle_sha256
    workbench bundle verify OUT --expect DIGEST --public-key alice.pub [--extends DIGEST]
    workbench bundle sign OUT --key ~/.ssh/id_ed25519
    workbench bundle show OUT
"""

from __future__ import annotations

import argparse
import json

from workbench.errors import ConfigError

#: what a bundle command's PATH is (``--help`` showed a bare "path")
_PATH_HELP = "the bundle directory (written by workbench bundle save or inc.save_bundle)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bundle", help="save, verify or show an evidence bundle")
    bsub = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)

    save = bsub.add_parser("save", help="load an incident and freeze it into a bundle")
    save.add_argument("out", help="bundle directory to write")
    src = save.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="the embedded demo incident")
    src.add_argument("--dir", help="a directory of telemetry files (e.g. a lab scenario)")
    save.add_argument("--window", help="START..END (default: the directory's scenario.json)")
    save.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT if it holds a valid bundle (never another directory)",
    )
    save.add_argument("--key", metavar="KEYFILE", help="sign with this Ed25519 key")
    save.set_defaults(func=_save)

    verify = bsub.add_parser(
        "verify", help="check every hash, the chain, and optionally a digest and a signature"
    )
    verify.add_argument("path", help=_PATH_HELP)
    verify.add_argument(
        "--expect", metavar="DIGEST", help="fail unless bundle_sha256 is exactly this"
    )
    verify.add_argument(
        "--public-key",
        metavar="FILE",
        help="fail unless signed by this key (.pub, PEM or allowed-signers file)",
    )
    verify.add_argument(
        "--extends", metavar="DIGEST", help="fail unless it extends the bundle with this digest"
    )
    verify.set_defaults(func=_verify)

    sign = bsub.add_parser("sign", help="sign a bundle's digest with an Ed25519 key")
    sign.add_argument("path", help=_PATH_HELP)
    sign.add_argument("--key", metavar="KEYFILE", required=True, help="e.g. ~/.ssh/id_ed25519")
    sign.set_defaults(func=_sign)

    show = bsub.add_parser("show", help="print a bundle's manifest summary")
    show.add_argument("path", help=_PATH_HELP)
    show.set_defaults(func=_show)


def _save(args: argparse.Namespace) -> int:
    from workbench.incident import Incident
    from workbench.timewindow import Window

    if args.demo:
        inc = Incident.demo()
    else:
        window = Window.parse(args.window) if args.window else None
        inc = Incident.from_directory(args.dir, window=window)
    path = inc.save_bundle(args.out, overwrite=args.overwrite, key=args.key)
    manifest = json.loads((path / "manifest.json").read_text())
    for entry in manifest["frames"]:
        print(f"{entry['signal']:8} {entry['rows']:>10,} rows  sha256 {entry['sha256'][:16]}…")
    print(f"bundle {path}  bundle_sha256 {manifest['bundle_sha256']}")
    if getattr(path, "signed_by", None):
        print(f"signed by {path.signed_by}")
    if "extends" in manifest:
        print(f"extends bundle_sha256 {manifest['extends']['bundle_sha256']}")
    if manifest["partial"]:
        from workbench.summaries import source_problems

        # said here: the load logs these at INFO only (the -v flag shows them)
        for line in source_problems(inc, ("error", "partial")):
            print(f"warning: {line}")
        print("warning: some sources failed or were partial; see the manifest")
    print("publish the bundle_sha256 where the incident is tracked; check it later with")
    print(f"  workbench bundle verify {path} --expect {manifest['bundle_sha256']}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from workbench.bundle import check_bundle

    check = check_bundle(
        args.path, expect=args.expect, public_key=args.public_key, extends=args.extends
    )
    print(f"{args.path}: bundle_sha256 {check.digest}")
    for c in check.checks:
        print(f"ok: {c}")
    for p in check.problems:
        print(f"FAILED: {p}")
    if check.ok and args.expect is None and args.public_key is None:
        print(
            "note: intact only proves the files match their own manifest; pass --expect "
            "DIGEST (published at save time) or --public-key FILE to rule out a rewrite"
        )
    return 0 if check.ok else 1


def _sign(args: argparse.Namespace) -> int:
    from workbench.bundle import load_manifest
    from workbench.signing import sign_bundle

    fp = sign_bundle(args.path, key=args.key)
    digest = load_manifest(args.path)["bundle_sha256"]
    print(f"{args.path}: bundle_sha256 {digest} signed by {fp}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from workbench.bundle import load_manifest

    m = load_manifest(args.path)
    inc = m["incident"]
    if not isinstance(inc, dict):
        raise ConfigError("manifest incident entry is malformed")
    title = f": {inc['title']}" if inc.get("title") not in (None, "", inc["id"]) else ""
    print(f"{inc['id']}{title}\nwindow {inc['window']}\nbaseline {inc['baseline']}")
    for entry in m["frames"]:
        print(f"{entry['signal']:8} {entry['rows']:>10,} rows")
    notes = m["annotations"]
    # an empty log's head is all zeros: it names no entry, so it is not shown
    head = f"  head {notes['head']}" if notes.get("count") else " (no note was added)"
    print(f"annotations: {notes['count']}{head}")
    print(f"bundle_sha256 {m.get('bundle_sha256')}")
    if isinstance(m.get("extends"), dict):
        print(f"extends bundle_sha256 {m['extends'].get('bundle_sha256')}")
    from workbench.signing import read_signatures

    for s in read_signatures(args.path):
        print(f"signature by {s.get('fingerprint')} over {str(s.get('digest'))[:16]}… (unchecked)")
    return 0
