"""The voxpop command: init, kiosk add, user add (real instance folders, real SQLite)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import rows
from voxpop import create_app
from voxpop.cli import main

pytestmark = pytest.mark.python_only


@pytest.fixture
def instance_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOXPOP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("VOXPOP_UPLOADS", str(tmp_path / "uploads"))
    return tmp_path


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_demo_creates_event_and_first_login_once(instance_env: Path) -> None:
    output = run("init", "--demo")
    assert "Created the demo event" in output
    password = re.search(r"organiser / (\S+)", output).group(1)
    login_file = instance_env / "instance" / "first-login.txt"
    assert password in login_file.read_text()
    assert (login_file.stat().st_mode & 0o777) == 0o600
    again = run("init", "--demo")
    assert "Created" not in again and "Event: “Whose Shoes? — demo day”" in again
    app = create_app()
    assert len(rows(app, "SELECT id FROM event")) == 1
    assert len(rows(app, "SELECT id FROM perspective")) == 8
    assert (instance_env / "uploads" / "originals").is_dir()


def test_init_without_demo_says_what_to_do(instance_env: Path) -> None:
    assert "voxpop init --demo" in run("init")


def test_user_add_then_login(instance_env: Path) -> None:
    run("init", "--demo")
    output = run("user", "add", "Mair", "--role", "facilitator", input="long password\n" * 2)
    assert "Added facilitator “Mair”" in output
    app = create_app()
    client = app.test_client()
    from tests.conftest import csrf_from

    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": "Mair", "password": "long password", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302


def test_user_add_refuses_duplicates_and_short_passwords(instance_env: Path) -> None:
    run("init")
    run("user", "add", "Mair", "--role", "organiser", "--password-stdin", input="long password\n")
    for name, password, message in (("Mair", "long password", "already"), ("Bob", "short", "8")):
        result = CliRunner().invoke(
            main,
            ["user", "add", name, "--role", "organiser", "--password-stdin"],
            input=password + "\n",
        )
        assert result.exit_code != 0 and message in result.output


def test_kiosk_add_roving_makes_an_interviewers_device(instance_env: Path) -> None:
    run("init", "--demo")
    run("kiosk", "add", "Interviewer phone", "--roving")
    run("kiosk", "add", "Foyer iPad")
    app = create_app()
    modes = {row["name"]: row["mode"] for row in rows(app, "SELECT name, mode FROM kiosk")}
    assert modes == {"Interviewer phone": "roving", "Foyer iPad": "kiosk"}


def test_kiosk_add_prints_a_working_token_and_pairing_link(instance_env: Path) -> None:
    run("init", "--demo")
    output = run("kiosk", "add", "Foyer iPad")
    token = re.search(r"Bearer …\): (\S+)", output).group(1)
    link = re.search(r"on this laptop: +(\S+)", output).group(1)
    app = create_app()
    client = app.test_client()
    assert "Foyer iPad" in client.get(link.replace("http://localhost:8080", "")).text
    config = client.get("/healthz")
    assert config.status_code == 200
    response = client.post(
        "/kiosk/api/reflections",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "perspective": "organiser",
            "prompt": str(rows(app, "SELECT id FROM prompt")[0]["id"]),
            "kind": "text",
            "consent": "archive",
            "text": "Made from the command line.",
            "client_id": "6f1c1f7e-2a55-4d1a-9f3e-3f3b5e0f2b1a",
        },
    )
    assert response.status_code == 201, response.json


def test_kiosk_add_ignores_the_ports_of_a_server_that_was_killed(instance_env: Path) -> None:
    run("init", "--demo")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that no longer exists, as a SIGKILLed serve leaves its note
    note = {"pid": gone.pid, "port": 9431, "tls_port": 9432}
    (instance_env / "instance" / "serving.json").write_text(json.dumps(note))
    output = run("kiosk", "add", "After a crash")
    assert "http://localhost:8080/kiosk/pair/" in output
    assert "voxpop is not running: the link works once `voxpop serve` runs on port 8080" in output


def test_serve_refuses_without_an_event(instance_env: Path) -> None:
    run("init")
    result = CliRunner().invoke(main, ["serve", "--port", "1", "--tls-port", "2"])
    assert result.exit_code != 0 and "voxpop init --demo" in result.output


# What a `voxpop` command or the server loads only when it is used: about 0.3 s of CPU each for
# boto3 (publishing), more for the speech model and WeasyPrint, at every command's start.
ON_DEMAND = ("boto3", "botocore", "s3transfer", "faster_whisper", "ctranslate2", "weasyprint")


def test_commands_and_the_app_start_without_the_libraries_loaded_on_demand(
    instance_env: Path,
) -> None:
    probe = (
        "import sys\n"
        "from voxpop import create_app, register_job_handlers\n"
        "from voxpop.cli import main\n"
        "create_app()\n"
        "register_job_handlers()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(ON_DEMAND)!r}))\n"
    )
    run("init")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
