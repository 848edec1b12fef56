"""Pause or undo a Deployment's rollout: the write side of `aiops rollout watch --act`.

- `pause` — `kubectl rollout pause`: a JSON merge patch `{"spec": {"paused": true}}`.
- `undo` — `kubectl rollout undo`: a JSON patch replacing `spec.template` with the previous
  ReplicaSet's pod template (minus `pod-template-hash`, as the pure core hands it over), guarded by
  a `test` of the Deployment's revision annotation, so a Deployment changed since the decision is
  not rolled back blindly. Like kubectl, a paused Deployment is not undone (resume it first).

Both through the official `kubernetes` client (`AppsV1Api`, raw responses, field manager `aiops`).
Failures follow DESIGN §4.7: connection errors, timeouts and 5xx → `UnreachableError` (exit 3);
401 → `UnreachableError`; 403 → `PolicyRefusal` (exit 4: these credentials may not write); 404 →
`InputError`; a conflict or a failed guard (409/422) is an `ActionResult` with `done=False`, not an
exception. This module decides nothing and reads nothing but the one Deployment it writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiops.errors import InputError, PolicyRefusal, UnreachableError
from aiops.kube import connect
from aiops.model import ObjectRef

__all__ = ["FIELD_MANAGER", "REVISION", "ActionResult", "RolloutActions"]

FIELD_MANAGER = "aiops"
REVISION = "deployment.kubernetes.io/revision"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class ActionResult:
    """What was asked of the API server and whether it took it."""

    action: str
    deployment: ObjectRef
    done: bool
    detail: str
    patch: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "deployment": self.deployment.to_dict(),
            "done": self.done,
            "detail": self.detail,
            "patch": self.patch,
            **self.extra,
        }


class RolloutActions:
    """Writes to one cluster (kubeconfig/context, or in-cluster config when neither is given)."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        timeout: float = 15.0,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout
        self.field_manager = field_manager
        self._api: Any = None
        self._endpoint = "the cluster"

    # ---- actions ----------------------------------------------------------------------------
    def pause(self, namespace: str, name: str) -> ActionResult:
        """`kubectl rollout pause deployment/NAME`: spec.paused=true (a merge patch; idempotent)."""
        ref = ObjectRef("Deployment", namespace, name)
        patch = {"spec": {"paused": True}}
        status, body = self._patch(namespace, name, patch, MERGE_PATCH)
        if status in (409, 422):
            return ActionResult("pause", ref, False, f"not paused: {_message(body)}", patch)
        return ActionResult(
            "pause", ref, True, f"deployment {namespace}/{name} paused (spec.paused=true)", patch
        )

    def undo(
        self,
        namespace: str,
        name: str,
        template: dict[str, Any],
        *,
        to_revision: str | None = None,
        expect_revision: str | None = None,
    ) -> ActionResult:
        """`kubectl rollout undo deployment/NAME`: spec.template ← the previous ReplicaSet's template.

        `expect_revision` is the Deployment's revision the decision saw; when it changed since, the
        API server refuses the patch (JSON patch `test`) and nothing is rolled back.
        """
        ref = ObjectRef("Deployment", namespace, name)
        current = self._get(namespace, name)
        extra = {"to_revision": to_revision}
        if (current.get("spec") or {}).get("paused"):
            return ActionResult(
                "undo",
                ref,
                False,
                f"not undone: deployment {namespace}/{name} is paused; resume it first "
                f"(kubectl rollout resume deployment/{name}), as kubectl rollout undo requires",
                None,
                extra,
            )
        ops: list[dict[str, Any]] = []
        if expect_revision is not None:
            ops.append(
                {
                    "op": "test",
                    "path": "/metadata/annotations/" + REVISION.replace("~", "~0").replace("/", "~1"),
                    "value": expect_revision,
                }
            )
        ops.append({"op": "replace", "path": "/spec/template", "value": template})
        status, body = self._patch(namespace, name, ops, JSON_PATCH)
        if status in (409, 422):
            return ActionResult(
                "undo",
                ref,
                False,
                f"not undone: the deployment changed since the decision ({_message(body)})",
                ops,
                extra,
            )
        where = f" to revision {to_revision}" if to_revision else ""
        return ActionResult(
            "undo", ref, True, f"deployment {namespace}/{name} rolled back{where}", ops, extra
        )

    # ---- HTTP ---------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._api is not None:
            return self._api
        from kubernetes.client import AppsV1Api

        conn = connect(self.kubeconfig, self.context)
        self._endpoint = conn.endpoint
        self._api = AppsV1Api(conn.client)
        return self._api

    def _get(self, namespace: str, name: str) -> dict[str, Any]:
        api = self._connect()
        what = f"GET deployment {namespace}/{name}"
        resp = self._call(
            what,
            lambda: api.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=self.timeout
            ),
        )
        status, body = int(resp.status), resp.read()
        self._raise_for(status, body, what, namespace, name)
        doc = json.loads(body)
        return doc if isinstance(doc, dict) else {}

    def _patch(self, namespace: str, name: str, body: Any, content_type: str) -> tuple[int, bytes]:
        api = self._connect()
        what = f"PATCH deployment {namespace}/{name}"
        resp = self._call(
            what,
            lambda: api.patch_namespaced_deployment(
                name,
                namespace,
                body,
                field_manager=self.field_manager,
                _content_type=content_type,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )
        status, data = int(resp.status), resp.read()
        if status in (409, 422):
            return status, data
        self._raise_for(status, data, what, namespace, name)
        return status, data

    def _call(self, what: str, fn: Any) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            return fn()
        except ApiException as exc:  # raised for non-2xx when the client checks statuses
            return _Raw(int(exc.status or 0), (exc.body or "").encode() if isinstance(exc.body, str) else b"")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise UnreachableError(f"cluster {self._endpoint}: {what} failed: {_reason(exc)}") from None

    def _raise_for(self, status: int, body: bytes, what: str, namespace: str, name: str) -> None:
        if 200 <= status < 300:
            return
        msg = _message(body)
        if status == 401:
            raise UnreachableError(f"cluster {self._endpoint}: credentials rejected (401) on {what}")
        if status == 403:
            raise PolicyRefusal(
                f"cluster {self._endpoint}: {what} forbidden: {msg}",
                hint="--act needs write credentials (patch deployments); run it in the apply job",
            )
        if status == 404:
            raise InputError(f"deploy/{name}: no Deployment {name} in namespace {namespace} ({what}: 404)")
        if status >= 500 or status in {429, 0}:
            raise UnreachableError(f"cluster {self._endpoint}: {what} answered {status}: {msg}")
        raise InputError(f"cluster {self._endpoint}: {what} answered {status}: {msg}")


@dataclass(frozen=True)
class _Raw:
    status: int
    body: bytes

    def read(self) -> bytes:
        return self.body


def _message(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return " ".join(body[:200].decode("utf-8", errors="replace").split())
    if isinstance(doc, dict) and doc.get("message"):
        return " ".join(str(doc["message"]).split())
    return ""


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(inner if isinstance(inner, BaseException) else exc)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "timed out" in low or "timeout" in low:
        return "timed out"
    if "name or service not known" in low or "resolution" in low:
        return "DNS lookup failed"
    return " ".join(f"{type(exc).__name__}: {text}".split())[:200]
