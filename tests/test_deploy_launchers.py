"""The run launchers an install on Docker or Kubernetes uses, checked as far as a machine without
Docker or Kubernetes allows: `deploy/dagster/dagster.yaml` (DockerRunLauncher) against Dagster's own
instance schema and dagster-docker's launcher schema, and `deploy/helm/values.yaml` for Dagster's
official chart: the user-code deployment's keys are the chart's, it loads Crossdock's code location,
its run launcher block satisfies dagster-k8s' K8sRunLauncher schema, and no secret is written in it."""

from __future__ import annotations

import importlib
import re
import shutil
from pathlib import Path

import dagster as dg
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_docker import DockerRunLauncher
from dagster_k8s import K8sRunLauncher

from assets.instance import DAGSTER_PG_URL_VARIABLE
from pipelines.settings import Settings, variable

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
KNOWN_VARIABLES = {variable(name) for name in Settings.model_fields} | {
    DAGSTER_PG_URL_VARIABLE,
    "CROSSDOCK_IMAGE",
    "CROSSDOCK_DOCKER_NETWORK",
}
# The keys of one entry of `deployments` in the chart's dagster-user-deployments values (chart 1.13).
CHART_DEPLOYMENT_KEYS = {
    "name",
    "image",
    "dagsterApiGrpcArgs",
    "codeServerArgs",
    "port",
    "includeConfigInLaunchedRuns",
    "volumes",
    "volumeMounts",
    "env",
    "envConfigMaps",
    "envSecrets",
    "initContainers",
    "sidecarContainers",
    "annotations",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "labels",
    "schedulerName",
    "readinessProbe",
    "livenessProbe",
    "startupProbe",
    "service",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_URL$|KEY$")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_docker_instance_file_passes_dagsters_schemas(tmp_path, monkeypatch):
    shutil.copy(DEPLOY / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    validated = dagster_instance_config(str(tmp_path))[0]  # raises on anything the instance schema refuses
    launcher = validated["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    monkeypatch.setenv("CROSSDOCK_IMAGE", "crossdock:0.1.0")
    monkeypatch.setenv("CROSSDOCK_DOCKER_NETWORK", "crossdock_default")
    processed = process_config(DockerRunLauncher.config_type(), launcher["config"])
    assert processed.success, processed.errors
    built = DockerRunLauncher.from_config_value(None, processed.value)  # no Docker engine needed to build it
    assert built.image == "crossdock:0.1.0" and built.networks == ["crossdock_default"]
    names = launcher["config"]["env_vars"]
    assert all("=" not in name for name in names)  # names only: values come from the daemon's environment
    assert set(names) <= KNOWN_VARIABLES and "CROSSDOCK_DATABASE_URL" in names
    assert validated["storage"]["postgres"]["postgres_url"] == {"env": DAGSTER_PG_URL_VARIABLE}


def test_the_helm_values_run_crossdock_as_a_user_code_deployment():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    user_code = values["dagster-user-deployments"]
    assert user_code["enabled"] and user_code["enableSubchart"]
    (deployment,) = user_code["deployments"]
    assert set(deployment) <= CHART_DEPLOYMENT_KEYS, set(deployment) - CHART_DEPLOYMENT_KEYS
    assert set(deployment["image"]) == {"repository", "tag", "pullPolicy"} and deployment["image"]["tag"] != "latest"
    args = deployment["dagsterApiGrpcArgs"]
    module, attribute = args[args.index("-m") + 1], args[args.index("-a") + 1]
    assert isinstance(getattr(importlib.import_module(module), attribute), dg.Definitions)
    for entry in deployment["env"]:
        assert entry["name"] in KNOWN_VARIABLES and not SECRET_NAME.search(entry["name"]), entry
    assert [secret["name"] for secret in deployment["envSecrets"]] == ["crossdock-env"]
    assert values["postgresql"]["enabled"] is False and "postgresqlPassword" not in values["postgresql"]


def test_the_helm_run_launcher_block_satisfies_dagster_k8s():
    launcher = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    helm = launcher["config"]["k8sRunLauncher"]
    # The chart renders these keys into dagster.yaml's K8sRunLauncher config (camelCase → snake_case,
    # secrets and config maps by name).
    config = {_snake(key): value for key, value in helm.items()}
    config["env_secrets"] = [item["name"] for item in config["env_secrets"]]
    config["run_k8s_config"] = {_snake(key): value for key, value in config["run_k8s_config"].items()}
    config["instance_config_map"] = "dagster-instance"
    processed = process_config(K8sRunLauncher.config_type(), config)
    assert processed.success, processed.errors
