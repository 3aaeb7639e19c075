"""Property tests: window strings, bundle manifests and annotation logs under hostile input.

Only typed workbench errors or correct values come out: never another exception.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workbench import BadData, ConfigError, Incident, Window, WorkbenchError
from workbench.annotations import AnnotationLog
from workbench.bundle import load_manifest, verify_bundle
from workbench.timewindow import parse_duration, parse_time

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

window_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda a, b: f"{a}..{b}",
        st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), st.text(max_size=20)
        ),
        st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
            st.just("now"),
            st.text(max_size=20),
        ),
    ),
    st.from_regex(r"now-[0-9]{1,6}(ms|s|m|h|d|w|y)?", fullmatch=True),
)


@given(window_text)
def test_window_strings_give_a_window_or_config_error(hostile, text: str) -> None:
    hostile.count("window-string")
    try:
        w = Window.parse(text, now=T0)
    except ConfigError:
        return
    assert w.start < w.end and w.start.tzinfo is UTC and w.end.tzinfo is UTC


@given(st.text(max_size=30))
def test_duration_strings(hostile, text: str) -> None:
    hostile.count("duration-string")
    try:
        d = parse_duration(text)
    except ConfigError:
        return
    assert d >= timedelta(0)


@given(st.one_of(st.text(max_size=40), st.integers(-(10**12), 10**12), st.floats(allow_nan=True)))
def test_time_values(hostile, value: object) -> None:
    hostile.count("time-value")
    try:
        t = parse_time(value)  # type: ignore[arg-type]
    except ConfigError:
        return
    except (OverflowError, OSError, ValueError) as exc:  # pragma: no cover - would be a bug
        pytest.fail(f"untyped error {type(exc).__name__} for {value!r}")
    assert t.tzinfo is UTC


@pytest.fixture(scope="module")
def saved_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_bundle import FrameSource, _logs

    inc = Incident(
        "INC-H",
        Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        sources=[FrameSource(_logs())],
    )
    inc.note("first")
    inc.note("second", kind="decision")
    return inc.save_bundle(tmp_path_factory.mktemp("b") / "bundle")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(data=st.data())
def test_hostile_manifests_give_bad_data_or_problems(
    hostile, saved_bundle: Path, tmp_path_factory, data
) -> None:
    hostile.count("bundle-manifest")
    root = tmp_path_factory.mktemp("m") / "b"
    shutil.copytree(saved_bundle, root)
    manifest = json.loads((root / "manifest.json").read_text())
    choice = data.draw(st.sampled_from(["truncate", "replace-key", "garbage"]))
    raw = json.dumps(manifest)
    if choice == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif choice == "replace-key":
        key = data.draw(st.sampled_from(sorted(manifest)))
        value = data.draw(json_values)
        assume(json.dumps(value, sort_keys=True) != json.dumps(manifest[key], sort_keys=True))
        manifest[key] = value
        raw = json.dumps(manifest)
    else:
        raw = data.draw(st.text(max_size=200))
    (root / "manifest.json").write_text(raw)
    try:
        problems = verify_bundle(root)
    except WorkbenchError:
        return
    except (KeyError, TypeError, AttributeError) as exc:
        pytest.fail(f"untyped {type(exc).__name__}: {exc}")
    assert problems, "a changed manifest must not verify as intact"


@given(st.lists(st.text(max_size=80), max_size=5))
def test_hostile_annotation_lines(hostile, tmp_path_factory, lines: list[str]) -> None:
    hostile.count("annotation-log")
    f = tmp_path_factory.mktemp("a") / "a.jsonl"
    f.write_text("\n".join(lines))
    try:
        log = AnnotationLog.read(f)
    except BadData:
        return
    assert isinstance(log.verify(), list)


def test_load_manifest_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(BadData, match="not valid JSON") as ei:
        load_manifest(tmp_path)
    assert ei.value.path and ei.value.path.endswith("manifest.json")
