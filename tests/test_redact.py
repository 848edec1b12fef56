"""Redaction: realistic secrets are masked with context kept; non-secrets survive; idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aiops.model import Cause, Diagnosis, Finding, ObjectRef, Severity, Snapshot
from aiops.redact import MASK, Redactor, is_secret_name, redact, redact_env_values, redact_obj

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjNGWHhQRmZ0In0."
    "eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50In0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8UqKx4"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----"
)

# (text containing a secret, the secret, what must remain for context)
SECRETS = [
    (f"Authorization: Bearer {JWT}", "eyJpc3Mi", "Authorization: Bearer "),
    ("GET /api 401 Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "Authorization: Basic "),
    ("curl -H 'Authorization: token 0123456789abcdefXYZ' https://x", "0123456789abcdefXYZ", "token "),
    ("using bearer 9f1c2e7a44b04c3e8d5fa0b1 for upstream", "9f1c2e7a44b04c3e8d5fa0b1", "bearer "),
    (f"token refresh failed: {JWT}", "eyJhbGciOiJSUzI1Ni", "token refresh failed: "),
    (
        "export GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "16C7e42F292c6912E7710c8",
        "GITHUB_TOKEN=",
    ),
    ("clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c8", "with ghp_"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a ghs_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F", "gho_"),
    (
        "pat github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghijklmnopqrstuvwxyzAB",
        "aBcDeFgHiJkL",
        "github_pat_",
    ),
    ("SLACK_BOT=xoxb-2478362147-5817263548123-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKl", "xoxb-"),
    ("notify https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX", "T0001/B0002", "hooks"),
    ("OPENAI key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3i", "Ab3dEf6hIj9kLm", "sk-proj-"),
    ("legacy sk-9xQ2mZ8vL4kT7bN1cR5wY3hJ6gF0dS2aP8eU4iO", "9xQ2mZ8vL4kT7bN1", "sk-"),
    (
        "anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdEFGH",
        "AbCdEfGhIjKlMn",
        "sk-ant-api03-",
    ),
    ("aws AKIAIOSFODNN7EXAMPLE in profile", "IOSFODNN7EXAMPLE", "AKIA"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI",
        "aws_secret_access_key = ",
    ),
    ("gcp key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "SyDaGmWKa4JsXZ", "AIza"),
    ("oauth ya29.a0AfH6SMBx3kQ9zZyXwVuTsRqPoNmLkJiHgFeDcBa0123", "a0AfH6SMBx3kQ9", "ya29."),
    ("AZURE_CLIENT_SECRET value abc8Q~Zx9yW_v-Ut.sR0qPoNmLkJiHgFeDcBaZy", "abc8Q~Zx9yW", "value "),
    (
        "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=Xk3p9Q%2BzR7vT0wLmN4sY8uA%3D&se=2026",
        "Xk3p9Q%2BzR7vT0wLmN4sY8uA",
        "&sig=",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=todo;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;"
        "EndpointSuffix=core.windows.net",
        "Zm9vYmFyYmF6cXV4",
        "AccountKey=",
    ),
    (f"key material:\n{PEM}\nnext line", "MIIEowIBAAKCAQEAu1SU1", "-----BEGIN RSA PRIVATE KEY-----"),
    (
        json.dumps({"type": "service_account", "private_key": PEM + "\n"}),
        "MIIEowIBAAKCAQEAu1SU1",
        '"private_key": ',
    ),
    ("cut log: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "b3BlbnNzaC1rZXkt", "BEGIN"),
    ("password=hunter2 user=todo", "hunter2", "password="),
    ("DB_PASSWORD=Tr0ub4dor&3 started", "Tr0ub4dor", "DB_PASSWORD="),
    ('{"user": "todo", "password": "pa\\"ss w0rd", "port": 5432}', "w0rd", '"password": "'),
    ("config:\n  api_key: 4f9a8b7c6d5e\n  region: eu", "4f9a8b7c6d5e", "api_key: "),
    ("client_secret='s3cr3t-v@lue' scope=read", "s3cr3t-v@lue", "client_secret='"),
    ("x-api-key: 77aa11bb22cc33dd", "77aa11bb22cc33dd", "x-api-key: "),
    ("java -jar app.jar --spring.datasource.password=Pg#2024 --port 8080", "Pg#2024", "password="),
    ("mysql --password Pg2024secret -h db", "Pg2024secret", "--password "),
    ("GET /callback?code=abc&token=f00dfeed1234&state=x", "f00dfeed1234", "token="),
    ("DATABASE_URL=postgres://todo:Sup3rS3cret@db.todo.svc:5432/todo", "Sup3rS3cret", "postgres://todo:"),
    ("redis dial redis://:r3d1sPass@redis-master:6379/0 failed", "r3d1sPass", "redis://:"),
    ("amqp://guest:guest123@rabbitmq:5672/", "guest123", "amqp://guest:"),
]


@pytest.mark.parametrize(("text", "secret", "context"), SECRETS)
def test_secret_is_masked_and_context_kept(text: str, secret: str, context: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert MASK in out
    assert context in out, out
    assert redact(out) == out, "redaction must be idempotent"


NON_SECRETS = [
    "image ghcr.io/acme/todo-backend@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "uid 123e4567-e89b-12d3-a456-426614174000 restarted",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",
    "requests cpu=250m memory=128Mi limits memory=256Mi ephemeral-storage=1Gi",
    "lastState.terminated.reason=OOMKilled exitCode=137 restartCount=12",
    "pod todo-backend-7c9f6d5b8-4kq2z (sk-payments-7c9f6d5b8-4kq2z) on node minikube",
    'MountVolume.SetUp failed for volume "db-creds" : secret "db-creds" not found',
    "Error: couldn't find key password in Secret todo/db-creds",
    "secretName: db-creds; secretKeyRef.name=db-creds; automountServiceAccountToken: false",
    'FATAL: password authentication failed for user "todo"',
    'Readiness probe failed: Get "http://10.244.0.12:8080/healthz": dial tcp 10.244.0.12:8080',
    "Basic authentication is disabled; bearer authentication required",
    "token_url=https://auth.example.com/token password_file=/run/secrets/db",
    "at 2026-11-25T10:00:00.123456Z sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
]


@pytest.mark.parametrize("text", NON_SECRETS)
def test_non_secrets_survive(text: str) -> None:
    assert redact(text) == text


def test_many_secrets_in_one_text_and_idempotence() -> None:
    text = "\n".join(t for t, _s, _c in SECRETS)
    once = redact(text)
    for _t, secret, _c in SECRETS:
        assert secret not in once
    assert redact(once) == once


def test_secret_names() -> None:
    for name in (
        "DB_PASSWORD",
        "apiKey",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "client-secret",
        "API_KEY",
    ):
        assert is_secret_name(name), name
    for name in (
        "secretName",
        "TOKEN_FILE",
        "REDIS_KEY_PREFIX",
        "LOG_LEVEL",
        "MONKEY",
        "PASSWORD_PATH",
        "PORT",
    ):
        assert not is_secret_name(name), name


def _pod(env: list[dict[str, object]]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "todo-backend-7c9f6d5b8-4kq2z", "namespace": "todo"},
        "spec": {"containers": [{"name": "backend", "image": "todo-backend:1.4.2", "env": env}]},
    }


def _deployment(env: list[dict[str, object]]) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "todo-backend", "namespace": "todo"},
        "spec": {"template": {"spec": {"initContainers": [{"name": "migrate", "image": "m:1", "env": env}]}}},
    }


def test_redactor_from_snapshot_masks_secret_env_values_everywhere() -> None:
    snap = Snapshot(
        items=(
            _pod(
                [
                    {"name": "DB_PASSWORD", "value": "Tr1cky-Pa55"},
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "SESSION_TIMEOUT", "value": "3600"},
                    {"name": "FEATURE_TOKEN_ENABLED", "value": "true"},
                    {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}},
                ]
            ),
            _deployment(
                [{"name": "OPENAI_TOKEN", "value": "plainvalue-xyz"}, {"name": "PIN_SECRET", "value": "42"}]
            ),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "todo-config", "namespace": "todo"},
                "data": {"LOG_LEVEL": "info", "SMTP_PASSWORD": "m4il-pw-99"},
            },
        ),
        at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    red = Redactor.from_snapshot(snap)
    assert set(red.values) == {"Tr1cky-Pa55", "plainvalue-xyz", "m4il-pw-99"}
    log = "psql: connecting with Tr1cky-Pa55 failed; debug mode; upstream said plainvalue-xyz invalid"
    out = red.redact(log)
    assert "Tr1cky-Pa55" not in out and "plainvalue-xyz" not in out
    assert "debug mode" in out
    assert red.redact(out) == out
    # the default redactor does not know these values
    assert "Tr1cky-Pa55" in redact(log)
    assert redact_env_values(log, ["Tr1cky-Pa55"]).count(MASK) == 1


def test_redact_obj_walks_nested_data() -> None:
    data = {
        "findings": [
            {
                "summary": "login with password=hunter2 failed",
                "evidence": ("url postgres://u:pw12345@db/x",),
                "cause": {
                    "type": "missing-env",
                    "detail": {"token": "abc123", "name": "API_TOKEN", "key": "REDIS_URL"},
                },
            }
        ],
        "env": [{"name": "DB_PASSWORD", "value": "x9y8z7"}, {"name": "LOG_LEVEL", "value": "info"}],
        "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}}],
        "apiKey": 12345678,
        "enabled": True,
        "count": 3,
    }
    out = redact_obj(data)
    text = json.dumps(out)
    for secret in ("hunter2", "pw12345", "abc123", "x9y8z7", "12345678"):
        assert secret not in text
    assert out["env"][1]["value"] == "info"
    assert out["findings"][0]["cause"]["detail"]["key"] == "REDIS_URL", (
        "a keyRef's key is a name, not a secret"
    )
    assert out["volumes"][0]["secret"] == {"secretName": "db-creds"}
    assert out["findings"][0]["evidence"] == ("url postgres://u:[REDACTED]@db/x",)
    assert out["enabled"] is True and out["count"] == 3
    assert redact_obj(out) == out
    assert data["apiKey"] == 12345678, "input is not modified"


def test_redact_finding_and_diagnosis() -> None:
    f = Finding(
        code="CrashLoopBackOff",
        severity=Severity.CRITICAL,
        object=ObjectRef("Pod", "todo", "todo-backend-1"),
        summary="app exits: auth failed with token=abcd1234efgh",
        evidence=("log: DATABASE_URL=postgres://todo:S3cr3tPw@db:5432/todo",),
        remediation="rotate the Tr1cky-Pa55 credential",
        cause=Cause("dependency-refused", {"url": "postgres://todo:S3cr3tPw@db:5432/todo"}),
    )
    red = Redactor(["Tr1cky-Pa55"])
    d = red.redact_diagnosis(Diagnosis(findings=(f,), notes=("reader: password=x1y2z3",)))
    text = json.dumps(d.to_dict())
    for secret in ("abcd1234efgh", "S3cr3tPw", "Tr1cky-Pa55", "x1y2z3"):
        assert secret not in text
    assert d.findings[0].code == "CrashLoopBackOff"


def test_unicode_text_whose_lowercase_changes_length() -> None:
    text = "İstanbul password=hunter2 ok"
    assert redact(text) == "İstanbul password=[REDACTED] ok"


def test_empty_and_boolean_values_are_kept() -> None:
    assert redact('password="" token: null secret=false') == 'password="" token: null secret=false'


@pytest.mark.parametrize(
    "text",
    [
        "password=" * 2000,
        "a:" * 10000,
        "-----BEGIN RSA PRIVATE KEY-----\n" + "QUJD" * 20000,
        "http://" + "a:" * 5000 + "b",
        "authorization: " * 3000,
        "--password " * 2000,
        "x" * 20000 + "secret=1",
    ],
)
def test_adversarial_inputs_stay_linear_and_idempotent(text: str) -> None:
    # patterns are anchored on literal triggers (no nested quantifiers): these finish at once
    out = redact(text)
    assert redact(out) == out
    assert len(out) <= len(text) + 20 * out.count(MASK)
