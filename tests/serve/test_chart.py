"""The Helm chart: lints, renders with default and HA values, every object validates against
the schemas of a current Kubernetes release (strict), and it agrees with the image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import helm_python as helm
import pytest
import yaml
from kubernetes_validate import utils as kube

from sync.serve import IMAGE_PORT, IMAGE_RUN_DIR

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "higress-plugin-server"
HA = yaml.safe_load((CHART / "ci" / "ha-values.yaml").read_text())
NAMESPACE = "higress-system"
VALUE_SETS = {"default": None, "ha": HA}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as c:
        yield c


def _render(chart: helm.Chart, values: dict[str, Any] | None) -> tuple[dict[str, dict[str, Any]], str]:
    out = chart.render(values, name="plugin-server", namespace=NAMESPACE, is_install=True)
    objects: dict[str, dict[str, Any]] = {}
    notes = ""
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert doc["kind"] not in objects, doc["kind"]
                objects[doc["kind"]] = doc
    return objects, notes


def _pod(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return dict(objects["Deployment"]["spec"]["template"]["spec"])


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=list(VALUE_SETS))
def test_lint_is_clean(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version="v1.33.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=list(VALUE_SETS))
def test_every_object_validates_strictly_against_current_kubernetes(chart: helm.Chart, values: dict[str, Any] | None) -> None:
    objects, _ = _render(chart, values)
    version = kube.latest_version()
    assert tuple(int(p) for p in version.split(".")[:2]) >= (1, 33)
    for obj in objects.values():
        kube.validate(obj, version, strict=True)
        assert obj["metadata"]["name"] == "higress-plugin-server"
        assert obj["metadata"]["namespace"] == NAMESPACE


def test_strict_validation_would_catch_a_mistake(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    bad = yaml.safe_load(yaml.safe_dump(objects["Deployment"]))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kube.ValidationError):
        kube.validate(bad, kube.latest_version(), strict=True)


def test_defaults_match_the_higress_core_chart(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget"}
    svc = objects["Service"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"].items() <= objects["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    dep = objects["Deployment"]
    assert dep["spec"]["replicas"] == 2
    container = _pod(objects)["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "200m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}}
    from sync.release.tags import ROLLING_PREFIX

    assert container["image"] == ("higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/plugin-server:"
                                  + ROLLING_PREFIX + chart.metadata["appVersion"])


def test_rolling_updates_never_drop_below_the_ready_count(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    strategy = objects["Deployment"]["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0 and strategy["rollingUpdate"]["maxSurge"] >= 1
    pdb = objects["PodDisruptionBudget"]["spec"]
    assert pdb["minAvailable"] == 1
    assert pdb["selector"]["matchLabels"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]


def test_probes_use_the_servers_health_endpoints_on_its_port(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    container = _pod(objects)["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": IMAGE_PORT, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    assert "location = /readyz" in conf and "location = /healthz" in conf


def test_pod_security_is_restricted_and_matches_the_image(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    pod = _pod(objects)
    user = re.findall(r"^USER (\d+)$", (REPO / "Dockerfile").read_text(), re.M)[-1]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": int(user), "runAsGroup": int(user),
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    sc = pod["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True and sc["privileged"] is False
    # the only writable place nginx needs is an emptyDir at its runtime directory
    mounts = pod["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "nginx-run", "mountPath": IMAGE_RUN_DIR}]
    assert pod["volumes"][0]["name"] == "nginx-run" and "emptyDir" in pod["volumes"][0]


def test_pods_spread_across_nodes_and_zones(chart: helm.Chart) -> None:
    objects, _ = _render(chart, None)
    spread = _pod(objects)["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert all(c["labelSelector"]["matchLabels"] == selector and c["maxSkew"] == 1 for c in spread)
    ha, _ = _render(chart, HA)
    assert {c["whenUnsatisfiable"] for c in _pod(ha)["topologySpreadConstraints"]} == {"DoNotSchedule"}


def test_ha_values_autoscale_and_pin_the_image_digest(chart: helm.Chart) -> None:
    objects, _ = _render(chart, HA)
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    assert "replicas" not in objects["Deployment"]["spec"]  # the autoscaler owns it
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "higress-plugin-server"}
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    assert _pod(objects)["containers"][0]["image"].endswith("@" + HA["image"]["digest"])


def test_a_single_pod_gets_no_budget_that_would_block_drains(chart: helm.Chart) -> None:
    objects, _ = _render(chart, {"replicas": 1})
    assert "PodDisruptionBudget" not in objects and objects["Deployment"]["spec"]["replicas"] == 1


def test_notes_print_the_console_url_pattern(chart: helm.Chart) -> None:
    _, notes = _render(chart, None)
    assert f"http://higress-plugin-server.{NAMESPACE}.svc/plugins/${{name}}/${{version}}/plugin.wasm" in notes
    assert "HIGRESS_ADMIN_WASM_PLUGIN_CUSTOM_IMAGE_URL_PATTERN" in notes
    _, other_port = _render(chart, {"service": {"port": 8081}})
    assert f"http://higress-plugin-server.{NAMESPACE}.svc:8081/plugins/${{name}}/${{version}}/plugin.wasm" in other_port


@pytest.mark.parametrize("values", [
    {"replicas": "two"},
    {"replicas": 0},
    {"image": {"pullPolicy": "Sometimes"}},
    {"image": {"digest": "sha256:short"}},
    {"service": {"port": 70000}},
    {"name": "Not_A_DNS_Name"},
    {"topologySpread": {"whenUnsatisfiable": "Maybe"}},
    {"replica": 3},
])
def test_the_values_schema_refuses_bad_values(chart: helm.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError, match="schema"):
        chart.render(values, name="plugin-server", namespace=NAMESPACE)


def test_the_values_schema_accepts_the_shipped_values(chart: helm.Chart) -> None:
    chart.validate_schema(chart.values)
    chart.validate_schema(chart.merge_values(HA))


def test_the_plain_kubectl_manifest_is_the_chart_rendered_with_defaults(chart: helm.Chart) -> None:
    from tests.serve.manifest import STATIC, static_manifest

    text = static_manifest()
    assert STATIC.read_text() == text, "regenerate: python -m tests.serve.manifest > " + str(STATIC.relative_to(REPO))
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["kind"] for d in docs] == ["Service", "PodDisruptionBudget", "Deployment"]
    for d in docs:
        kube.validate(d, kube.latest_version(), strict=True)
        assert "helm.sh/chart" not in d["metadata"]["labels"]
    assert "static/higress-plugin-server.yaml" not in {f["name"] for f in chart.files}  # not packaged


@pytest.mark.parametrize("values, says", [
    ({"replicas": 2, "podDisruptionBudget": {"minAvailable": 5}}, r"minAvailable \(5\) must be below the pod count \(2, replicas\)"),
    ({"replicas": 3, "podDisruptionBudget": {"minAvailable": 3}}, r"minAvailable \(3\) must be below the pod count \(3, replicas\)"),
    ({"replicas": 3, "podDisruptionBudget": {"minAvailable": "100%"}}, "minAvailable 100% keeps every pod up"),
    ({"autoscaling": {"enabled": True, "minReplicas": 3}, "podDisruptionBudget": {"minAvailable": 3}},
     r"pod count \(3, autoscaling.minReplicas\)"),
])
def test_a_budget_that_blocks_every_drain_is_refused(chart: helm.Chart, values: dict[str, Any], says: str) -> None:
    with pytest.raises(helm.HelmError, match=says):
        chart.render(values, name="plugin-server", namespace=NAMESPACE)


@pytest.mark.parametrize("values", [
    {"replicas": 3, "podDisruptionBudget": {"minAvailable": 2}},
    {"replicas": 3, "podDisruptionBudget": {"minAvailable": "50%"}},
    {"replicas": 1, "podDisruptionBudget": {"minAvailable": 1}},  # no budget for one pod: nothing to refuse
    {"replicas": 2, "podDisruptionBudget": {"enabled": False, "minAvailable": 5}},
])
def test_budgets_that_let_a_node_drain_render(chart: helm.Chart, values: dict[str, Any]) -> None:
    objects, _ = _render(chart, values)
    if "PodDisruptionBudget" in objects:
        assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == values["podDisruptionBudget"]["minAvailable"]


# The longest lag of the Service behind a pod's deletion (endpoints controller, then
# kube-proxy on every node) that the defaults carry a gateway across: for the preStop sleep
# the old pod still answers; after it, the gateway's retries wait out the rest.
SERVICE_LAG_COVERED = 10.0


def test_the_stop_sequence_covers_what_gateways_fetch(chart: helm.Chart) -> None:
    """The values tests/fleet/test_restart.py plays at a smaller scale: two pods, one replaced at
    a time, SIGQUIT after a preStop sleep, SIGKILL only once every attempt a gateway still
    waits on is over."""
    from tests.support.fleet import Fetcher

    gateway = Fetcher()
    objects, _ = _render(chart, None)
    pod = _pod(objects)
    container = pod["containers"][0]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    prestop, grace = float(command[1]), float(pod["terminationGracePeriodSeconds"])
    # nginx drains after the sleep: every transfer a gateway has not given up on (one attempt
    # lasts at most its timeout) ends before the kubelet's SIGKILL
    assert grace - prestop >= gateway.timeout, (grace, prestop)
    # ... and clients that never finish end before it too: nginx closes a stalled response at
    # worker_shutdown_timeout (after any live gateway attempt is over), and a request it is
    # still reading at client_header_timeout (the shutdown timer does not end those)
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    shutdown = float(re.findall(r"^worker_shutdown_timeout (\d+)s;$", conf, re.M)[0])
    header = float(re.findall(r"^\s*client_header_timeout (\d+)s;$", conf, re.M)[0])
    assert gateway.timeout < shutdown < grace - prestop, (shutdown, grace, prestop)
    assert header < grace - prestop
    # a Service lagging behind by up to SERVICE_LAG_COVERED seconds sends no connection to a
    # closed port that the gateway's retries do not carry over
    assert prestop > 0 and prestop + gateway.retry_window >= SERVICE_LAG_COVERED
    assert objects["Deployment"]["spec"]["replicas"] >= 2
    assert objects["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # the kubelet sends the image's stop signal: SIGQUIT is nginx's graceful stop
    assert re.findall(r"^STOPSIGNAL (\S+)$", (REPO / "Dockerfile").read_text(), re.M) == ["SIGQUIT"]
