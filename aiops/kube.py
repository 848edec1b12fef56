"""Loads a kubeconfig (or the in-cluster service account) into the official `kubernetes` client.

`connect(kubeconfig, context)` is the one place aiops turns `--kubeconfig`/`--context` into an
`ApiClient`: in-cluster config when neither flag nor `$KUBECONFIG` is set and
`$KUBERNETES_SERVICE_HOST` is (inside a pod, like kubectl), else `load_kube_config`. The client never
retries on its own (`retries=0` unless the caller passes a urllib3 `Retry`); its pool holds
`pool_size` connections. `current_context` names the context a kubeconfig selects. A missing,
unreadable or malformed config, or an unknown context, is an `InputError` naming the flag and the
file, never a traceback.

It sits below the adapters (cluster, watch, apply, metrics) so they share it without importing each
other. It must not send a request, decide anything or retry: what to ask the cluster, and how to
treat failures, is each adapter's. `kubernetes` is imported inside the functions, so `aiops --help`
never loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiops.errors import InputError

if TYPE_CHECKING:
    from urllib3.util.retry import Retry

__all__ = [
    "DEFAULT_HINT",
    "SERVICE_ACCOUNT_DIR",
    "KubeConnection",
    "connect",
    "current_context",
    "in_cluster",
]

DEFAULT_HINT = "pass --kubeconfig FILE / --context NAME, or run in a pod with a service account"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class KubeConnection:
    """The official client, the API server URL it talks to, and a label for the cluster."""

    client: Any  # kubernetes.client.ApiClient (its configuration is `client.configuration`)
    endpoint: str  # e.g. https://10.0.0.1:443
    cluster: str | None  # "in-cluster", the context name, or None when the kubeconfig names none


def in_cluster(kubeconfig: str | None, context: str | None) -> bool:
    """True when the in-cluster service account is used: no flag, no $KUBECONFIG, inside a pod."""
    return (
        not kubeconfig
        and not context
        and not os.environ.get("KUBECONFIG")
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    )


def connect(
    kubeconfig: str | None,
    context: str | None,
    *,
    pool_size: int = 4,
    retries: int | Retry = 0,
    hint: str | None = None,
) -> KubeConnection:
    """Load the config and build the client (no request is sent); bad config → `InputError`.

    `retries` is the client's own retry policy (an int or a urllib3 `Retry`); 0 for adapters that
    retry themselves. `hint` is the command's advice when the config cannot be loaded."""
    import yaml
    from kubernetes import config as kconfig
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException

    cfg = Configuration()
    inside = in_cluster(kubeconfig, context)
    try:
        if inside:
            kconfig.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            cluster: str | None = "in-cluster"
        else:
            kconfig.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=_config_file(kubeconfig), context=context, client_configuration=cfg
            )
            cluster = context or _active_context(kubeconfig)
    except ConfigException as exc:
        flag = "--context" if context and "context" in str(exc).lower() else "--kubeconfig"
        raise InputError(
            f"{flag}: cannot load cluster config from {_where(kubeconfig, inside)}: {_one_line(str(exc))}",
            hint=hint or DEFAULT_HINT,
        ) from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        raise InputError(
            f"--kubeconfig: cannot read {_where(kubeconfig, inside)}: {_one_line(str(exc))}",
            hint=hint or DEFAULT_HINT,
        ) from None
    cfg.retries = retries
    cfg.connection_pool_maxsize = pool_size
    return KubeConnection(client=ApiClient(cfg), endpoint=str(cfg.host), cluster=cluster)


def current_context(kubeconfig: str | None, context: str | None = None) -> str | None:
    """The context name a kubeconfig selects (`context` when given); "in-cluster" inside a pod.

    Unreadable contexts are an `InputError` (apply compares this name with the policy's cluster)."""
    if context:
        return context
    if in_cluster(kubeconfig, context):
        return "in-cluster"
    import yaml
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException

    try:
        _, active = kconfig.list_kube_config_contexts(config_file=_config_file(kubeconfig))  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        raise InputError(
            f"--kubeconfig: cannot read contexts from {_where(kubeconfig, False)}: {_one_line(str(exc))}"
        ) from None
    return str(active.get("name")) if isinstance(active, dict) and active.get("name") else None


def _active_context(kubeconfig: str | None) -> str | None:
    """The current-context name, only as a label: the config already loaded, so never an error."""
    try:
        return current_context(kubeconfig)
    except InputError:
        return None


def _config_file(kubeconfig: str | None) -> str | None:
    """The flag, else $KUBECONFIG as it is now (the client reads it once, when first imported; it
    may list several files, which the client merges), else None: the client's ~/.kube/config."""
    return kubeconfig or os.environ.get("KUBECONFIG") or None


def _where(kubeconfig: str | None, inside: bool) -> str:
    if inside:
        return f"the in-cluster service account ({SERVICE_ACCOUNT_DIR})"
    return kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"


def _one_line(text: str) -> str:
    return " ".join(text.split())
