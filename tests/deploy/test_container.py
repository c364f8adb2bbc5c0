"""The container's install steps and the compose trial, checked without a container engine:
deploy/container/install.sh builds the wheels and installs them into a fresh venv exactly as
the Dockerfile does, and the installed command runs the demo, status and metrics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.config import load_settings
from tests.servers.support import stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = ROOT / "deploy" / "container"
TRIAL_SECRETS = "/run/upskill-secrets"


def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((CONTAINER / "compose.yaml").read_text())
    return found


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPSKILL_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    return env


def test_the_compose_trial_runs_the_worker_after_postgres_and_the_sandbox_courses() -> None:
    services = compose()["services"]
    assert set(services) == {"trial-secrets", "db", "moodle", "moodle-courses", "upskill"}
    worker = services["upskill"]
    assert worker["command"] == ["worker"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["depends_on"]["moodle-courses"]["condition"] == "service_completed_successfully"
    build = worker["build"]
    assert (CONTAINER / build["context"] / build["dockerfile"]).resolve() == (
        CONTAINER / "Dockerfile"
    )
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    db = services["db"]["environment"]
    assert db["POSTGRES_PASSWORD_FILE"].startswith(TRIAL_SECRETS + "/")


def test_the_trial_configuration_loads_and_its_secrets_are_made_by_the_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("UPSKILL_")]:
        monkeypatch.delenv(name)
    settings = load_settings(CONTAINER / "upskill.toml")
    assert settings.targets.moodle.url == "http://moodle:8080"
    values = tomllib.loads((CONTAINER / "upskill.toml").read_text(encoding="utf-8"))
    files = [values["state"]["url_file"], values["targets"]["moodle"]["token_file"]]
    assert all(f.startswith(TRIAL_SECRETS + "/") for f in files)
    mounts = compose()["services"]["upskill"]["volumes"]
    assert f"secrets:{TRIAL_SECRETS}:ro" in mounts
    subprocess.run(
        [sys.executable, str(CONTAINER / "trial_setup.py"), "secrets", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for path in files:
        assert (tmp_path / Path(path).name).read_text(encoding="utf-8").strip()
    url = (tmp_path / "state-url").read_text(encoding="utf-8")
    password = (tmp_path / "db-password").read_text(encoding="utf-8")
    assert url == f"postgresql+psycopg://upskill:{password}@db/upskill"
    again = subprocess.run(
        [sys.executable, str(CONTAINER / "trial_setup.py"), "secrets", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert again.returncode == 0
    assert (tmp_path / "db-password").read_text(encoding="utf-8") == password  # kept


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's two install steps, run on this machine: the venv they make."""
    base = tmp_path_factory.mktemp("image")
    script = str(CONTAINER / "install.sh")
    env = clean_env()
    subprocess.run(["sh", script, "wheels", str(ROOT), str(base / "wheels")], check=True, env=env)
    wheels = sorted(p.name for p in (base / "wheels").glob("*.whl"))
    assert any(name.startswith("upskill_connector-") for name in wheels)
    assert any(name.startswith("psycopg") for name in wheels)  # the [postgres] extra
    assert not any(name.startswith(("pytest", "mypy", "ruff")) for name in wheels)
    subprocess.run(
        ["sh", script, "install", str(base / "wheels"), str(base / "venv")], check=True, env=env
    )
    return base / "venv"


def upskill(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "upskill"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_installed_wheel_runs_help_demo_status_and_metrics(
    installed: Path, tmp_path: Path
) -> None:
    for name in ("examples", "mappings"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shown = upskill(installed, tmp_path, "--help")
    assert shown.returncode == 0 and "status" in shown.stdout and "metrics" in shown.stdout
    demo = upskill(installed, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "Report written: var/reports/latest.html" in demo.stdout  # templates and migrations
    status = upskill(installed, tmp_path, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.splitlines()[1].split()[:2] == ["sync", "#1"]
    metrics = upskill(installed, tmp_path, "metrics")
    assert 'upskill_last_run_outcome{job="sync",outcome="succeeded"} 1.0' in metrics.stdout
    imported = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import connector; print(connector.__file__)"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(installed) in imported.stdout  # the installed package, not this checkout


def test_the_trial_courses_step_fills_a_sandbox_started_as_compose_starts_it(
    installed: Path, tmp_path: Path
) -> None:
    python = str(installed / "bin" / "python")
    port_file = tmp_path / "port"
    sandbox = subprocess.Popen(
        [python, "-m", "connector.lms.moodle.sandbox", "--host", "127.0.0.1", "--port", "0",
         "--db", str(tmp_path / "sandbox.db"), "--token", "trial", "--port-file", str(port_file)],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
    )
    try:
        assert wait_until(port_file.exists, sandbox), "the sandbox did not start"
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        done = subprocess.run(
            [python, str(CONTAINER / "trial_setup.py"), "courses", url, str(ROOT / "mappings")],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "course(s) present in the Moodle sandbox" in done.stdout
    finally:
        stop(sandbox)
