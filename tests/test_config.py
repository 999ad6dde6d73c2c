"""Configuration layers: defaults < instance/voxpop.toml < VOXPOP_* environment < arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxpop.config import load_config

pytestmark = pytest.mark.python_only


def test_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "voxpop.toml").write_text('port = 9000\ntls_port = 9443\npublic_base_url = "x"\n')
    monkeypatch.setenv("VOXPOP_INSTANCE", str(instance))
    monkeypatch.setenv("VOXPOP_TLS_PORT", "9999")
    config = load_config({"PUBLIC_BASE_URL": "https://archive.example"})
    assert config["PORT"] == 9000  # from the file
    assert config["TLS_PORT"] == 9999  # environment beats the file
    assert config["PUBLIC_BASE_URL"] == "https://archive.example"  # arguments beat everything
    assert config["UPLOADS"] == str(Path("uploads").resolve())  # default


def test_defaults_point_at_the_working_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXPOP_INSTANCE", raising=False)
    monkeypatch.delenv("VOXPOP_UPLOADS", raising=False)
    config = load_config()
    assert config["INSTANCE"] == str(Path("instance").resolve())
    assert (config["PORT"], config["TLS_PORT"]) == (8080, 8443)
