"""`apply.mode: argocd | flux` (observe mode): wait until the GitOps engine has synced a revision.

In pull-based set-ups the engine applies; aiops only reads its status through the Python client:
- Argo CD `Application` (`argoproj.io/v1alpha1`, namespace `argocd`): synced when
  `status.sync.status == Synced` and `status.sync.revision` is the commit (or one after it, which
  the caller decides), healthy when `status.health.status == Healthy`; `Degraded` is a failure;
- Flux `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`, namespace `flux-system`): synced when
  `status.lastAppliedRevision` ends with the commit (`main@sha1:<sha>`) and the `Ready` condition is
  True; `Ready=False` with the commit attempted is a failure.

`SyncWatcher.wait(name, sha)` polls with an injected clock and sleep until synced, failed or the
timeout. Rollback in these modes is git-first (a revert PR). The only writes are for
`aiops rollback --emergency`: `suspend` stops the engine's auto-sync (Argo CD also syncs back to
the previous revision) and `resume` restores it when the hold is lifted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiops.errors import InputError, UnreachableError
from aiops.kube import connect

Engine = Literal["argocd", "flux"]
SUSPENDED_ANNOTATION = "aiops.io/suspended-automated"

ENGINES: dict[str, tuple[str, str, str]] = {
    # mode: (group/version, plural, default namespace)
    "argocd": ("argoproj.io/v1alpha1", "applications", "argocd"),
    "flux": ("kustomize.toolkit.fluxcd.io/v1", "kustomizations", "flux-system"),
}


@dataclass(frozen=True)
class SyncState:
    """What the engine reports about one app: its synced revision and whether it is done/failed."""

    engine: str
    name: str
    revision: str | None
    synced: bool
    healthy: bool
    failed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "name": self.name,
            "revision": self.revision,
            "synced": self.synced,
            "healthy": self.healthy,
            "failed": self.failed,
            "detail": self.detail,
        }


def _matches(revision: str | None, sha: str) -> bool:
    if not revision:
        return False
    tail = revision.rsplit(":", 1)[-1].rsplit("@", 1)[-1]
    return bool(tail) and (sha.startswith(tail) or tail.startswith(sha))


def read_state(engine: str, name: str, obj: dict[str, Any], sha: str) -> SyncState:
    """Judge one Application / Kustomization object against the commit `sha` (pure)."""
    status = obj.get("status") or {}
    if engine == "argocd":
        sync = status.get("sync") or {}
        health = str((status.get("health") or {}).get("status") or "")
        revision = sync.get("revision")
        at_sha = _matches(revision, sha)
        synced = at_sha and sync.get("status") == "Synced"
        op = status.get("operationState") or {}
        failed = at_sha and (health == "Degraded" or op.get("phase") in ("Failed", "Error"))
        detail = f"sync {sync.get('status')}, health {health or 'unknown'}, revision {revision}"
        return SyncState(engine, name, revision, synced, health == "Healthy", failed, detail)
    revision = status.get("lastAppliedRevision")
    attempted = status.get("lastAttemptedRevision")
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    ok = ready.get("status") == "True"
    synced = _matches(revision, sha) and ok
    failed = _matches(attempted, sha) and ready.get("status") == "False"
    detail = f"Ready={ready.get('status')} ({ready.get('reason')}), applied {revision}"
    return SyncState(engine, name, revision, synced, ok, failed, detail)


@dataclass
class SyncWatcher:
    """Polls an Argo CD Application or Flux Kustomization through the Python client."""

    engine: str
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    timeout_s: float = 600.0
    poll_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _client: Any = None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        self._client = connect(self.kubeconfig, self.context).client
        return self._client

    def read(self, name: str) -> dict[str, Any]:
        return self._request("GET", name)

    def _patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of the Application/Kustomization (the only writes this adapter makes)."""
        return self._request("PATCH", name, body)

    def _request(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET, or merge-PATCH with `body`, of one Application/Kustomization: its JSON; a missing
        object is an `InputError`, a forbidden write a `PolicyRefusal`, anything else failing an
        `UnreachableError` naming the call."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        gv, plural, default_ns = ENGINES[self.engine]
        ns = self.namespace or default_ns
        path = f"/apis/{gv}/namespaces/{ns}/{plural}/{name}"
        client = self._connect()
        patching = body is not None
        try:
            params = client.param_serialize(
                method=method,
                resource_path=path,
                query_params=[("fieldManager", "aiops")] if patching else None,
                header_params={"Accept": "application/json"}
                | ({"Content-Type": "application/merge-patch+json"} if patching else {}),
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = client.call_api(*params, _request_timeout=15.0)
            data = resp.read()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise UnreachableError(f"cluster: {method} {path}: {type(exc).__name__}") from None
        status = int(resp.status)
        if status == 404:
            raise InputError(f"{self.engine}: no {plural} {ns}/{name} (apply.mode is {self.engine})")
        if patching and status in (401, 403):
            from aiops.errors import PolicyRefusal

            raise PolicyRefusal(f"cluster: PATCH {path}: HTTP {status} (aiops may not change {plural})")
        if status >= 300:
            raise UnreachableError(f"cluster: {method} {path}: HTTP {status}")
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else {}

    def suspend(self, name: str, *, rollback_to: str | None = None) -> str:
        """Stop the engine from syncing `name` (an emergency); Argo CD also syncs back to `rollback_to`.

        Argo CD: the automated sync policy is removed and kept in the annotation
        `aiops.io/suspended-automated` so `resume` can restore it; with `rollback_to` a one-off sync
        operation to that revision is requested. Flux: `spec.suspend: true` (Flux cannot sync a
        Kustomization to an older revision; the revert PR restores it once resumed).
        """
        if self.engine == "argocd":
            app = self.read(name)
            automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
            body: dict[str, Any] = {
                "metadata": {"annotations": {SUSPENDED_ANNOTATION: json.dumps(automated or {})}},
                "spec": {"syncPolicy": {"automated": None}},
            }
            if rollback_to:
                body["operation"] = {
                    "initiatedBy": {"username": "aiops"},
                    "sync": {"revision": rollback_to},
                }
            self._patch(name, body)
            done = f"argocd: auto-sync of {name} suspended"
            return done + (f"; syncing back to {rollback_to[:12]}" if rollback_to else "")
        self._patch(
            name, {"metadata": {"annotations": {SUSPENDED_ANNOTATION: "true"}}, "spec": {"suspend": True}}
        )
        return f"flux: {name} suspended (it stays at the last applied revision until resumed)"

    def resume(self, name: str) -> str | None:
        """Undo `suspend` when aiops suspended `name` (its annotation says so); None when it did not."""
        obj = self.read(name)
        marker = ((obj.get("metadata") or {}).get("annotations") or {}).get(SUSPENDED_ANNOTATION)
        if marker is None:
            return None
        if self.engine == "argocd":
            try:
                automated = json.loads(marker) or {}
            except json.JSONDecodeError:
                automated = {}
            self._patch(
                name,
                {
                    "metadata": {"annotations": {SUSPENDED_ANNOTATION: None}},
                    "spec": {"syncPolicy": {"automated": automated}},
                },
            )
            return f"argocd: auto-sync of {name} restored"
        self._patch(
            name, {"metadata": {"annotations": {SUSPENDED_ANNOTATION: None}}, "spec": {"suspend": False}}
        )
        return f"flux: {name} resumed"

    def wait(self, name: str, sha: str) -> SyncState:
        """Poll until the app is synced at `sha` and healthy, or failed, or the timeout passes."""
        start = self.clock()
        while True:
            state = read_state(self.engine, name, self.read(name), sha)
            if (state.synced and state.healthy) or state.failed:
                return state
            if self.clock() - start >= self.timeout_s:
                return SyncState(
                    state.engine,
                    name,
                    state.revision,
                    state.synced,
                    state.healthy,
                    True,
                    f"not synced at {sha[:12]} within {self.timeout_s:.0f} s: {state.detail}",
                )
            self.sleep(self.poll_s)
