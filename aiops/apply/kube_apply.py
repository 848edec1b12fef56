"""`apply.mode: kubectl`: server-side apply of `helm template` output through the Python client.

`KubeApplier.apply(manifests, namespace)` splits the rendered YAML into objects and sends each as a
server-side apply (`PATCH …?fieldManager=aiops&force=true`, `Content-Type:
application/apply-patch+yaml`) — what `kubectl apply --server-side --field-manager=aiops` does.
The resource path of each kind comes from API discovery (`/api/v1`, `/apis/<group>/<version>`),
namespaced objects without a namespace get the release's.

Errors follow DESIGN §4.7: unreachable / 5xx → `UnreachableError`; 403 → `PolicyRefusal`; a
rejected object (4xx) is an `ObjectResult` with `ok=False` so the caller takes the failure path.
`kubernetes` (and ruamel) are imported lazily. Decides nothing; never deletes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiops.errors import InputError, PolicyRefusal, UnreachableError
from aiops.kube import connect

__all__ = [
    "APPLY_PATCH",
    "FIELD_MANAGER",
    "KubeApplier",
    "ObjectResult",
    "split_documents",
]

FIELD_MANAGER = "aiops"
APPLY_PATCH = "application/apply-patch+yaml"


def split_documents(text: str) -> list[dict[str, Any]]:
    """Rendered multi-document YAML → the objects (empty documents, non-objects and Helm hooks such as
    `helm test` pods dropped: `helm upgrade` does not apply hooks as release objects either)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    return [
        d
        for d in yaml.load_all(text)
        if isinstance(d, dict)
        and d.get("kind")
        and d.get("apiVersion")
        and "helm.sh/hook" not in ((d.get("metadata") or {}).get("annotations") or {})
    ]


@dataclass(frozen=True)
class ObjectResult:
    kind: str
    namespace: str
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": f"{self.kind}/{self.name}",
            "namespace": self.namespace,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass
class KubeApplier:
    """Server-side apply to one cluster (kubeconfig/context, or in-cluster config)."""

    kubeconfig: str | None = None
    context: str | None = None
    timeout: float = 30.0
    field_manager: str = FIELD_MANAGER
    _client: Any = None
    _endpoint: str = "the cluster"
    _discovery: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        conn = connect(self.kubeconfig, self.context)
        self._endpoint = conn.endpoint
        self._client = conn.client
        return self._client

    def _call(
        self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None
    ) -> tuple[int, bytes]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        client = self._connect()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = APPLY_PATCH
        try:
            params = client.param_serialize(
                method=method,
                resource_path=path,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = client.call_api(*params, _request_timeout=self.timeout)
            data = resp.read()
        except ApiException as exc:
            status = int(exc.status or 0)
            if status == 0:
                raise UnreachableError(f"cluster {self._endpoint}: {method} {path}: {exc.reason}") from None
            return status, (exc.body or b"") if isinstance(exc.body, bytes) else str(exc.body or "").encode()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UnreachableError(
                f"cluster {self._endpoint}: {method} {path}: {type(exc).__name__}",
                hint="check that the cluster is up and reachable (kubectl cluster-info)",
            ) from None
        status = int(resp.status)
        if status >= 500:
            raise UnreachableError(f"cluster {self._endpoint}: {method} {path}: HTTP {status}")
        return status, data

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind, from discovery of its group/version (cached)."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            status, body = self._call("GET", path)
            table: dict[str, tuple[str, bool]] = {}
            if status == 200:
                for r in json.loads(body).get("resources", []):
                    if "/" not in str(r.get("name", "")):
                        table[str(r.get("kind"))] = (str(r["name"]), bool(r.get("namespaced")))
            self._discovery[api_version] = table
        found = self._discovery[api_version].get(kind)
        if found is None:
            raise InputError(f"server-side apply: the cluster does not serve {kind} in {api_version}")
        return found

    def apply_object(self, obj: Mapping[str, Any], namespace: str) -> ObjectResult:
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        md = dict(obj.get("metadata") or {})
        name = str(md.get("name") or "")
        plural, namespaced = self._resource(api_version, kind)
        ns = str(md.get("namespace") or namespace) if namespaced else ""
        body = dict(obj)
        if namespaced:
            body["metadata"] = {**md, "namespace": ns}
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        path = (
            f"{base}/namespaces/{quote(ns, safe='')}/{plural}/{quote(name, safe='')}"
            if namespaced
            else f"{base}/{plural}/{quote(name, safe='')}"
        )
        status, data = self._call(
            "PATCH", path, body, [("fieldManager", self.field_manager), ("force", "true")]
        )
        if status == 403:
            raise PolicyRefusal(
                f"server-side apply of {kind}/{name}: forbidden for these credentials ({_message(data)})"
            )
        if status >= 300:
            return ObjectResult(kind, ns, name, False, f"HTTP {status}: {_message(data)}")
        return ObjectResult(kind, ns, name, True, "applied" if status == 200 else "created")

    def apply(self, manifests: str, namespace: str) -> list[ObjectResult]:
        """Server-side apply of every object of a `helm template` output; stops at the first rejection."""
        out: list[ObjectResult] = []
        for obj in split_documents(manifests):
            result = self.apply_object(obj, namespace)
            out.append(result)
            if not result.ok:
                break
        return out


def _message(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        return body[:200].decode("utf-8", "replace")
    return str(doc.get("message") or doc.get("reason") or "") if isinstance(doc, dict) else ""
