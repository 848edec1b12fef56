"""`aiops.kube`: kubeconfig / in-cluster config → the official client, and config errors → `InputError`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakeapi import FakeApiServer

from aiops.errors import InputError
from aiops.kube import DEFAULT_HINT, SERVICE_ACCOUNT_DIR, connect, current_context, in_cluster


@pytest.fixture(autouse=True)
def outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine running the tests has set, start outside a pod without $KUBECONFIG."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)


def _version_status(client: object) -> int:
    """One GET /version through the client (aiops.kube itself never sends a request)."""
    params = client.param_serialize(  # type: ignore[attr-defined]
        method="GET",
        resource_path="/version",
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    resp = client.call_api(*params, _request_timeout=5.0)  # type: ignore[attr-defined]
    resp.read()
    return int(resp.status)


def test_a_kubeconfig_file_gives_a_client_for_its_server(fake_api: FakeApiServer, kubeconfig: str) -> None:
    conn = connect(kubeconfig, None)
    assert conn.endpoint == fake_api.url
    assert conn.cluster == "fake"  # the kubeconfig's current-context
    assert fake_api.requests == []  # loading the config sends nothing
    cfg = conn.client.configuration
    assert cfg.retries == 0 and cfg.auth_settings()["BearerToken"]["value"] == "Bearer fake-token-123"
    # the credentials reach the server: the fake API answers 401 without the token
    assert _version_status(conn.client) == 200
    assert [r.path for r in fake_api.requests] == ["/version"]


def test_an_explicit_context_is_the_cluster_name(fake_api: FakeApiServer, tmp_path: Path) -> None:
    path = fake_api.write_kubeconfig(tmp_path / "kc", context="minikube")
    assert connect(str(path), "minikube").cluster == "minikube"
    assert current_context(str(path)) == "minikube"
    assert current_context(str(path), "other") == "other"  # a given context is taken as is


def test_the_pool_size_and_retry_policy_reach_the_built_client(kubeconfig: str) -> None:
    from urllib3.util.retry import Retry

    retry = Retry(total=2, backoff_factor=0.1)
    conn = connect(kubeconfig, None, pool_size=17, retries=retry)
    # the client builds its pool manager when created: set afterwards, these would be ignored
    pool_kw = conn.client.rest_client.pool_manager.connection_pool_kw
    assert pool_kw["maxsize"] == 17 and pool_kw["retries"] is retry
    assert connect(kubeconfig, None).client.rest_client.pool_manager.connection_pool_kw["maxsize"] == 4


def test_a_missing_kubeconfig_names_the_flag_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(InputError) as err:
        connect(str(missing), None)
    assert err.value.message.startswith(f"--kubeconfig: cannot load cluster config from {missing}: ")
    assert err.value.hint == DEFAULT_HINT
    with pytest.raises(InputError, match=r"^--kubeconfig: cannot read contexts from .*missing"):
        current_context(str(missing))


def test_the_default_kubeconfig_location_is_named_when_no_file_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "from-env"))
    with pytest.raises(
        InputError, match=rf"^--kubeconfig: cannot load cluster config from {tmp_path}/from-env: "
    ):
        connect(None, None)


def test_an_unknown_context_names_the_context_flag(kubeconfig: str) -> None:
    with pytest.raises(InputError) as err:
        connect(kubeconfig, "nope", hint="pass --snapshot FILE")
    assert err.value.message.startswith(f"--context: cannot load cluster config from {kubeconfig}: ")
    assert "nope" in err.value.message and err.value.hint == "pass --snapshot FILE"


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Config\nclusters: [\n  - {\n",  # not YAML at all
        "- just\n- a list\n",  # YAML, but not a mapping
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: a\n  context: 5\ncurrent-context: a\n",
    ],
    ids=["malformed-yaml", "a-list", "context-not-a-mapping"],
)
def test_a_malformed_kubeconfig_names_the_file_on_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text, encoding="utf-8")
    for call in (lambda: connect(str(path), None), lambda: current_context(str(path))):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.message.startswith("--kubeconfig: cannot read ")
        assert str(path) in err.value.message and "\n" not in err.value.message


def test_in_cluster_config_from_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kubernetes.config.incluster_config as incluster

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token-1", encoding="utf-8")  # as the kubelet projects it: no newline
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot checked until a request\n-----END CERTIFICATE-----\n")
    # load_incluster_config reads these module paths when called (the pod's mounted service account)
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    assert in_cluster(None, None)
    conn = connect(None, None)
    assert (conn.cluster, conn.endpoint) == ("in-cluster", "https://10.96.0.1:443")
    cfg = conn.client.configuration
    assert cfg.auth_settings()["BearerToken"]["value"] == "bearer sa-token-1" and cfg.ssl_ca_cert == str(ca)
    assert cfg.refresh_api_key_hook is not None  # re-reads the rotated token (LiveSource runs it)
    assert current_context(None) == "in-cluster"


def test_a_flag_or_kubeconfig_variable_wins_over_the_service_account(
    fake_api: FakeApiServer, kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert connect(kubeconfig, None).endpoint == fake_api.url
    assert connect(kubeconfig, "fake").cluster == "fake"
    monkeypatch.setenv("KUBECONFIG", kubeconfig)  # as kubectl: an explicit $KUBECONFIG is used
    assert not in_cluster(None, None)
    assert (connect(None, None).endpoint, current_context(None)) == (fake_api.url, "fake")


def test_in_cluster_without_a_service_account_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kubernetes.config.incluster_config as incluster

    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(tmp_path / "no-token"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(InputError) as err:
        connect(None, None)
    assert err.value.message == (
        f"--kubeconfig: cannot load cluster config from the in-cluster service account "
        f"({SERVICE_ACCOUNT_DIR}): Service token file does not exist."
    )


def test_importing_the_module_does_not_load_kubernetes() -> None:
    code = "import sys, aiops.kube; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
