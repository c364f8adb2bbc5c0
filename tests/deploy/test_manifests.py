"""The deploy files: the Dockerfile passes hadolint, the Kubernetes manifests validate against
the Kubernetes schemas, and what they configure agrees with the connector's settings."""

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
from connector.personas.validate import offline_problems

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = ROOT / "deploy" / "container"
KUBERNETES = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
SECRETS_MOUNT = "/run/secrets/upskill"


def tool(name: str) -> str:
    """A linter the dev extra installs into the venv beside this Python."""
    found = Path(sys.executable).with_name(name)
    if not found.exists():
        found = Path(shutil.which(name) or name)
    return str(found)


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def all_documents() -> list[dict[str, Any]]:
    return [d for path in MANIFESTS for d in documents(path)]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for doc in all_documents():
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            found.append((doc["metadata"]["name"], spec["jobTemplate"]["spec"]["template"]["spec"]))
        elif doc["kind"] == "Deployment":
            found.append((doc["metadata"]["name"], spec["template"]["spec"]))
    return found


def configmap(name: str) -> dict[str, str]:
    (doc,) = [
        d for d in all_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name
    ]
    data: dict[str, str] = doc["data"]
    return data


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", str(CONTAINER / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_fails_a_dockerfile_with_known_faults(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nRUN cd /tmp && ls\n")
    done = subprocess.run([tool("hadolint"), str(bad)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # latest tag


def test_the_dockerfile_builds_non_root_without_compilers_and_runs_upskill() -> None:
    text = (CONTAINER / "Dockerfile").read_text(encoding="utf-8")
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    final = text.split(stages[1], 1)[1]
    assert "USER 10001:10001" in final
    assert 'ENTRYPOINT ["upskill"]' in final
    assert "--mount=type=bind,from=build,source=/wheels" in final  # only the wheels cross over
    for compiler in ("gcc", "build-essential", "apt-get install"):
        assert compiler not in final


def test_the_manifests_validate_against_the_kubernetes_schemas() -> None:
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed for resource") == len(all_documents())


def test_the_validator_refuses_a_manifest_with_a_wrong_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (KUBERNETES / "cronjobs.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("concurrencyPolicy: Forbid", "concurrencyPolicy: 3"))
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", str(bad)], capture_output=True, text=True
    )
    assert done.returncode != 0


def test_the_kustomization_lists_files_that_exist() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        assert (KUBERNETES / name).exists(), name
    assert "secret.example.yaml" not in kustomization["resources"]


def test_the_jobs_never_overlap_and_every_pod_runs_locked_down() -> None:
    cronjobs = {d["metadata"]["name"]: d for d in all_documents() if d["kind"] == "CronJob"}
    assert set(cronjobs) == {"upskill-sync", "upskill-report"}
    for job in cronjobs.values():
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
    sync_args = cronjobs["upskill-sync"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert sync_args["containers"][0]["args"] == ["sync"]
    names = set()
    for name, spec in pod_specs():
        names.add(name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the image's user
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        requests = container["resources"]["requests"]
        assert requests["cpu"] and requests["memory"]
        assert container["resources"]["limits"]["memory"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts[SECRETS_MOUNT] == "credentials"
        assert mounts["/var/lib/upskill"] == "work"  # writable beside a read-only root
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["UPSKILL_CONFIG"] == "/etc/upskill/config/upskill.toml"
        assert mounts["/etc/upskill/config"] == "config"
    assert {"upskill-worker", "upskill-metrics"} <= names


def test_the_worker_probes_the_health_endpoint_it_serves() -> None:
    (worker,) = [d for d in documents(KUBERNETES / "worker.yaml") if d["kind"] == "Deployment"]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["worker"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == 9464
    assert worker["spec"]["replicas"] == 1


def test_the_configmap_settings_load_and_every_secret_file_is_a_key_of_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = configmap("upskill-config")["upskill.toml"]
    path = tmp_path / "upskill.toml"
    path.write_text(text, encoding="utf-8")
    for name in [n for n in os.environ if n.startswith("UPSKILL_")]:
        monkeypatch.delenv(name)
    settings = load_settings(path)  # raises on any unknown or invalid setting
    assert settings.monitoring.listen == "0.0.0.0:9464"
    files = _file_settings(tomllib.loads(text))
    assert len(files) >= 4
    (secret,) = documents(KUBERNETES / "secret.example.yaml")
    keys = set(secret["stringData"])
    for setting, value in files.items():
        folder, _, key = value.rpartition("/")
        assert folder == SECRETS_MOUNT, f"{setting} = {value} is not in the Secret's mount"
        assert key in keys, f"{setting} names {key}, which the Secret does not hold"
    assert keys == {v.rpartition("/")[2] for v in files.values()}


def test_the_mappings_configmap_holds_valid_mappings(tmp_path: Path) -> None:
    for name, text in configmap("upskill-mappings").items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    loaded, problems = offline_problems(tmp_path)
    assert loaded is not None and problems == []


def _file_settings(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found = {}
    for key, value in values.items():
        if isinstance(value, dict):
            found.update(_file_settings(value, f"{prefix}{key}."))
        elif key.endswith("_file"):
            found[prefix + key] = value
    return found
