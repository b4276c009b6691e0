"""Settings from the environment: the contract the operator renders from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oozo_contract.index_settings import IndexSettings
from oozo_contract.serve_settings import ServeSettings
from oozo_contract.settings import env_for


def test_api_keys_accept_comma_separated_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_API_KEYS", "k1, k2 ,,k3")
    assert [k.get_secret_value() for k in ServeSettings().api_keys] == ["k1", "k2", "k3"]
    monkeypatch.setenv("OOZO_API_KEYS", '["a,b", "c"]')
    assert [k.get_secret_value() for k in ServeSettings().api_keys] == ["a,b", "c"]


def test_include_accepts_comma_separated_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_INCLUDE", "**/*.docx,**/*.md")
    assert IndexSettings().include == ["**/*.docx", "**/*.md"]
    monkeypatch.setenv("OOZO_INCLUDE", '["*.txt"]')
    assert IndexSettings().include == ["*.txt"]


def test_openai_key_falls_back_to_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OOZO_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-plain")
    key = ServeSettings().openai_api_key
    assert key is not None and key.get_secret_value() == "sk-plain"
    monkeypatch.setenv("OOZO_OPENAI_API_KEY", "sk-oozo")
    key = ServeSettings().openai_api_key
    assert key is not None and key.get_secret_value() == "sk-oozo"


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_API_KEYS", "very-secret-key")
    monkeypatch.setenv("OOZO_OPENAI_API_KEY", "sk-very-secret")
    text = repr(ServeSettings()) + str(ServeSettings().model_dump())
    assert "very-secret" not in text


def test_every_index_flag_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_for(
        IndexSettings,
        source="/docs",
        index_dir="/idx",
        model="intfloat/e5-small-v2",
        batch_size=16,
        chunk_size=500,
        chunk_overlap=50,
        include=["**/*.docx"],
        index_type="hnsw",
        termination_message_path="/dev/termination-log",
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = IndexSettings()
    assert (s.source, str(s.index_dir), s.model, s.batch_size) == (
        "/docs",
        "/idx",
        "intfloat/e5-small-v2",
        16,
    )
    assert (s.chunk_size, s.chunk_overlap, s.include, s.index_type) == (500, 50, ["**/*.docx"], "hnsw")


def test_serve_settings_render_and_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_for(ServeSettings, index_version="v1", port=9000, auth_enabled=True, api_keys_file="/keys/k")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = ServeSettings()
    assert (s.index_version, s.port, s.auth_enabled, str(s.api_keys_file)) == ("v1", 9000, True, "/keys/k")


def test_overlap_not_below_size_is_refused() -> None:
    with pytest.raises(ValidationError, match="chunk_overlap"):
        IndexSettings(chunk_size=200, chunk_overlap=200)
