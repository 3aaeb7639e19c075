"""``workbench render``: a notebook as a report without code, readable offline.

    workbench render postmortem --execute -p bundle INC-123.bundle -p authors alice --to html
    workbench render INC-123-postmortem.ipynb --to md --out docs/INC-123.md

``NOTEBOOK`` is a notebook file, or the name of a packaged template (``postmortem``,
``incident``, ``capacity``). ``--execute`` runs it headless first (papermill) with the ``-p NAME VALUE``
parameters, which must be ones its ``parameters`` cell defines and never secrets; the
executed notebook is kept next to the output. The output has no code cells: text,
tables and charts only. ``--to html`` embeds every chart as inline SVG and loads nothing
from the network; ``--to md`` writes the charts as SVG files in ``NAME_files/`` beside the
Markdown, for a Git repository or a wiki.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from workbench.commands import help_text
from workbench.errors import ConfigError

_SECRETISH = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|CREDENTIAL", re.I)


def _template_names() -> str:
    """The packaged templates, as the help names them: ``postmortem, incident, capacity``."""
    from importlib import resources

    folder = resources.files("workbench") / "templates"
    names = {Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".ipynb")}
    order = ["postmortem", "incident", "capacity"]  # the README's order, then the rest
    return ", ".join([n for n in order if n in names] + sorted(names - set(order)))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render a notebook (e.g. a postmortem) to HTML or Markdown without code",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebook", help=f"a .ipynb file, or a template name: {_template_names()}")
    p.add_argument(
        "--to", choices=("html", "md"), default="html", help="output format (default html)"
    )
    p.add_argument("--out", type=Path, help="output file (default: NOTEBOOK's name + .html/.md)")
    p.add_argument("--execute", action="store_true", help="run the notebook headless first")
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter for --execute (repeatable); lists take a,b,c",
    )
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds allowed per cell (default 600)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --execute: replace the executed notebook even if someone edited it",
    )
    p.set_defaults(func=run)


def _resolve(name: str) -> tuple[Path, bool]:
    """(notebook path, whether it is a packaged template)."""
    p = Path(name)
    if p.exists():
        return p, False
    if re.fullmatch(r"[a-z_]+", name):
        from workbench import notebook

        try:
            return notebook.template_path(name), True
        except ConfigError:
            pass
    raise ConfigError(
        f"no notebook {name}",
        hint=f"give a .ipynb path, or a template name: {_template_names()}",
    )


def _value(text: str, default: Any) -> Any:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(default, list) and not isinstance(value, list):
        value = [s.strip() for s in str(text).split(",") if s.strip()]
    elif isinstance(default, str) and not isinstance(value, str):
        value = text
    elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def parameters(nb_path: Path, pairs: list[list[str]]) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs checked against the notebook's parameters cell and typed
    like its defaults. Refuses unknown names and values that are a secret from the
    environment (parameters are written into the executed notebook)."""
    from workbench import notebook

    if not pairs:
        return {}
    defaults = notebook.read_parameters(nb_path)
    secrets = {v: k for k, v in os.environ.items() if _SECRETISH.search(k) and v and len(v) >= 8}
    out: dict[str, Any] = {}
    for name, text in pairs:
        if name not in defaults:
            raise ConfigError(
                f"{nb_path.name} has no parameter {name!r}",
                hint=f"its parameters are {', '.join(defaults)}",
            )
        if text in secrets or any(s in text for s in secrets):
            raise ConfigError(
                f"parameter {name!r} holds the value of ${secrets.get(text, 'a secret')}; "
                "parameters are saved in the notebook, so they never carry secrets",
                hint='put credentials in workbench.toml as {env = "NAME"} references',
            )
        out[name] = _value(text, defaults[name])
    return out


def run(args: argparse.Namespace) -> int:
    from workbench import notebook, offline_html

    src, is_template = _resolve(args.notebook)
    ext = ".html" if args.to == "html" else ".md"
    out: Path = args.out or (
        Path.cwd() / f"{src.stem}{ext}" if is_template else src.with_suffix(ext)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    params = parameters(src, args.parameter)
    if params and not args.execute:
        raise ConfigError("-p only applies with --execute", hint="add --execute")
    if args.execute:
        executed = out.with_suffix(".ipynb")
        if executed.resolve() == src.resolve():
            executed = out.with_name(f"{out.stem}.executed.ipynb")
        state = notebook.draft_state(executed)
        if state in ("edited", "foreign") and not args.force:
            what = (
                "was edited since it was drafted"
                if state == "edited"
                else ("was not written by `workbench render`")
            )
            raise ConfigError(
                f"{executed} {what}; refusing to overwrite it (nothing was written)",
                hint="render your edited notebook without --execute "
                f"(workbench render {executed} --to {args.to}), give --out elsewhere for a "
                "fresh draft, or pass --force to replace it",
            )
        try:
            notebook.execute(
                src, executed, parameters=params, cwd=out.parent, timeout_s=args.timeout
            )
        finally:
            if executed.exists():
                notebook.stamp_draft(executed)
        src = executed
    nb = offline_html.make_static(json.loads(src.read_text(encoding="utf-8")))
    errors = sum(
        o.get("output_type") == "error" for c in nb.get("cells", []) for o in c.get("outputs", [])
    )
    if errors:
        print(f"warning: {errors} cell(s) of {src} hold an error output", file=sys.stderr)
    title = nb.get("metadata", {}).get("title") or src.stem
    charts = offline_html.chart_count(nb)
    if args.to == "html":
        out.write_text(offline_html.to_html(nb, title=title, exclude_input=True), encoding="utf-8")
        print(f"wrote {out} ({charts} chart(s) inline)")
    else:
        md, files = offline_html.to_markdown(nb, files_dir=f"{out.stem}_files")
        for rel, data in files.items():
            target = out.parent / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        out.write_text(md, encoding="utf-8")
        print(f"wrote {out} and {len(files)} image(s) in {out.parent / (out.stem + '_files')}")
    return 0
