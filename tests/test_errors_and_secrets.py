import pytest

from workbench import AuthError, ConfigError, QueryError, Secret, SourceError
from workbench.secrets import redact_url


def test_error_renders_fields_and_hint() -> None:
    err = QueryError(
        "rejected",
        source="prom",
        query="up{",
        status=400,
        error_type="bad_data",
        detail="parse error",
        hint="fix it",
    )
    s = str(err)
    assert "source=prom" in s and "status=400" in s and "bad_data" in s and "fix it" in s
    assert "<b>QueryError</b>" in err._repr_html_()
    assert isinstance(AuthError("x", source="p"), SourceError)


def test_secret_never_shows_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_TEST_TOKEN", "canary-7f3a")
    s = Secret.env("WB_TEST_TOKEN")
    assert s.reveal() == "canary-7f3a"
    for text in (repr(s), str(s), f"{s}", repr([s]), repr({"t": s})):
        assert "canary-7f3a" not in text
    assert "canary" not in repr(Secret.value("canary-7f3a"))
    with pytest.raises(TypeError):
        __import__("pickle").dumps(s)


def test_secret_config_refuses_literals_and_unset_env() -> None:
    with pytest.raises(ConfigError, match="secret reference"):
        Secret.from_config("hunter2", field="password")
    with pytest.raises(ConfigError, match="not set"):
        Secret.from_config({"env": "WB_SURELY_UNSET_VAR"}, field="token").reveal()


def test_redact_url() -> None:
    assert (
        redact_url("https://bob:pw@prom:9090/api?token=abc&x=1")
        == "https://prom:9090/api?token=***&x=1"
    )
