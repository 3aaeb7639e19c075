"""Credentials never leave, in any encoding (issue 15, part 1).

A real HTTP server on loopback echoes every request header (raw, base64 and
URL-encoded, after 3,000 characters of padding so clipping would cut the echo) in its
error answers. Sources that authenticate to it with basic and bearer auth must leak
nothing -- not the value, not ``base64(user:password)``, not a prefix -- into errors,
logs, the bundle, the postmortem Markdown or HTML.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.hostile_http import HostileHttp
from workbench import ConfigError, Incident, Window
from workbench.secrets import Secret, encoded_forms, literal_credentials, redact_text
from workbench.sources.http import Auth, HttpClient
from workbench.sources.loki import LokiSource
from workbench.sources.prometheus import PrometheusSource

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
W = Window(T0, T0 + timedelta(minutes=30))


def _leaks(text: str, secrets: list[str]) -> list[str]:
    """Every encoded form of a secret (and its first 12 characters) found in ``text``."""
    found = []
    for s in secrets:
        for form in [*encoded_forms(s), s[:12]]:
            if form in text:
                found.append(form)
    return found


def test_encoded_forms_find_basic_auth_at_every_alignment() -> None:
    pw = "s3cret-password-123"
    for user in ("a", "ab", "abc", "alice"):
        header = base64.b64encode(f"{user}:{pw}".encode()).decode()
        assert any(f in header for f in encoded_forms(pw)), user
        assert not _leaks(redact_text(f"echo {header} end", [pw]), [pw])
        assert "Basic ***" in redact_text(f"Authorization: Basic {header}")


def test_redaction_masks_credential_shapes_without_knowing_them() -> None:
    text = (
        "GET http://bob:hunter2@h/api?q=up&api_key=k123456 Authorization: Bearer eyJabc.def"
        ' "X-Api-Key": "zz-9911" password=letmein'
    )
    out = redact_text(text)
    for secret in ("hunter2", "k123456", "eyJabc.def", "zz-9911", "letmein"):
        assert secret not in out, secret
    assert "q=up" in out and "http://bob:***@h/api" in out


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("http://am:pw@alertmanager:9093", "password in user-info"),
        ("postgres://wb@db:5432/x?password=hunter2", "query parameter password"),
        ("https://prom:9090/?access_token=abc", "query parameter access_token"),
    ],
)
def test_literal_credentials_in_urls_are_refused(url: str, what: str) -> None:
    assert literal_credentials(url) == [what]
    with pytest.raises(ConfigError, match="literal credential") as ei:
        HttpClient("am", url)
    assert "pw@" not in str(ei.value) and "hunter2" not in str(ei.value)
    from workbench.config_spec import spec_from_url

    prefixed = url if url.startswith("postgres") else "alertmanager+" + url
    with pytest.raises(ConfigError, match="literal credential"):
        spec_from_url(prefixed)


def test_workbench_new_refuses_alertmanager_url_with_password(capsys) -> None:
    from workbench.cli import main

    code = main(["new", "INC-1", "--alert", "abc", "--alertmanager", "http://u:pw123@h:9093"])
    out = capsys.readouterr()
    assert code != 0
    assert "literal credential" in out.err + out.out
    assert "pw123" not in out.err + out.out


def test_echoing_server_leaks_nothing_anywhere(
    tmp_path: Path, canaries, caplog: pytest.LogCaptureFixture
) -> None:
    token, password = canaries.token, canaries.password
    secrets = [token, password, base64.b64encode(f"alice:{password}".encode()).decode()]
    caplog.set_level(logging.DEBUG)
    with HostileHttp("echo") as srv:
        prom = PrometheusSource(
            srv.url, name="prom", auth=Auth(bearer=Secret.env(canaries.TOKEN_ENV)), retries=0
        )
        loki = LokiSource(
            srv.url,
            name="loki",
            auth=Auth(username="alice", password=Secret.env(canaries.PASSWORD_ENV)),
            retries=0,
        )
        texts = []
        for src in (prom, loki):
            with pytest.raises(Exception) as ei:
                src.load("metrics" if src is prom else "logs", W)
            err = ei.value
            texts += [str(err), repr(err), err._repr_html_(), str(err.details())]
        srv.mode = "echo500"
        with pytest.raises(Exception) as ei:
            prom.load("metrics", W)
        texts += [str(ei.value), ei.value._repr_html_()]
        srv.mode = "echo401"
        with pytest.raises(Exception) as ei:
            loki.load("logs", W)
        texts.append(str(ei.value))
        # the server really saw the credentials: the test would catch a real echo
        seen = " ".join(str(h) for h in srv.seen_headers)
        really_sent = f"Bearer {token}" in seen and secrets[2] in seen
        assert really_sent
        srv.mode = "echo"
        inc = Incident("INC-LEAK", W, sources=[prom, loki])
        inc.load(["metrics", "logs"])
        assert {o.source for o in inc.outcomes.values() if o.error} == {"prom", "loki"}
        bundle = inc.save_bundle(tmp_path / "bundle")
    from workbench.postmortem import draft

    replay = Incident.from_bundle(bundle)
    md = draft(replay).to_markdown()
    texts += [md, inc._repr_html_(), str(inc.status().to_dicts())]
    texts += [r.getMessage() for r in caplog.records]
    files = [p.read_bytes().decode("latin-1") for p in bundle.rglob("*") if p.is_file()]
    assert "HTTP 400" in " ".join(texts)  # the errors themselves were kept
    assert any("bad_data" in t for t in texts)
    for i, t in enumerate(texts + files):
        n_leaks = len(_leaks(t, secrets))  # a count: the failure text must not show them
        assert n_leaks == 0, f"text #{i} holds {n_leaks} encoded form(s) of a credential"
        clean = canaries.found_in(t) is None
        assert clean, f"text #{i} holds a canary"
