"""Redaction of secrets in any text aiops emits: printed, written to git/PRs/PHRs, or sent to an advisor.

One module, used by every path that emits text (DESIGN §4.5). It masks:
- bearer/basic `Authorization` values, JWTs, private-key PEM blocks;
- provider tokens: AWS access key ids, GCP API keys / OAuth tokens, Azure client secrets and SAS
  signatures, GitHub (ghp_/gho_/ghs_/ghu_/ghr_/github_pat_), GitLab, Slack (xox?-, webhooks),
  OpenAI/Anthropic-style (sk-...), Stripe, npm, Hugging Face;
- `key=value` / `key: value` / `"key": "value"` pairs whose key names a secret (password, secret,
  token, api_key, access_key, credentials, ...), in plain text, JSON, YAML, env and query strings;
- credentials in URLs (`scheme://user:pass@host` keeps the user, masks the password);
- literal values known to be secret: env `value`s of pod specs and ConfigMap values whose names
  look secret (`Redactor.from_snapshot`), masked wherever they appear.

It keeps enough context to read (`password=[REDACTED]`, `ghp_[REDACTED]`), is idempotent
(redacting redacted text changes nothing), and runs as one precompiled regex pass per string.
Non-secrets survive: UUIDs, image digests (sha256:...), git SHAs, quantities, pod names.
No I/O here; it must not import anything above the bottom layer.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiops.model.findings import Diagnosis, Finding
    from aiops.model.snapshot import Snapshot

MASK = "[REDACTED]"

# Words that make a key (or an env var name) secret. Matched case-insensitively as the *end* of
# a key: `DB_PASSWORD`, `aws_secret_access_key`, `x-api-key`, `clientSecret` (not `secretName`).
_KEY_PREFIXES = (
    "api",
    "access",
    "secret",
    "private",
    "account",
    "auth",
    "encryption",
    "signing",
    "master",
    "client",
    "session",
)
_SECRET_KEY_WORDS = (
    r"passwords?|passwd|passphrase|secrets?|tokens?|credentials?|creds"
    r"|(?:" + "|".join(_KEY_PREFIXES) + r")[_.-]?keys?"
    r"|apikeys?|accesskeys?|client[_.-]?secret|connection[_.-]?string|cookie|sessionid|session[_.-]?id"
)
_SEPARATORS = ("", "_", ".", "-")
_SECRET_KEY_TRIGGERS = (
    "pass",
    "secret",
    "token",
    "cred",
    "cookie",
    *(prefix + sep + "key" for prefix in _KEY_PREFIXES for sep in _SEPARATORS),
    *("connection" + sep + "string" for sep in _SEPARATORS),
    *("session" + sep + "id" for sep in _SEPARATORS),
)
"""Every word `_SECRET_KEY_WORDS` matches, lower-cased, contains one of these (a test enumerates them)."""
_FLAG_TRIGGERS = ("pass", "token", "secret", "apikey", "api-key", "access-key")
"""Every secret word of the two-word flag rule (`--api-key VALUE`) contains one of these."""

_Handler = Callable[["re.Match[str]", str], str]
_Rule = tuple[tuple[str, ...], str, _Handler]
"""(triggers, pattern, handler): the rule runs only on text containing one of its lower-case triggers.

A pattern starting with `(?i)` is case-insensitive: its body is written in lower case and is
matched against the lower-cased text (6x faster than IGNORECASE); handlers read group text from
the original string `src` by position, so the output keeps the original case.
"""


def _g(m: re.Match[str], src: str, name: str) -> str:
    start, end = m.span(name)
    return src[start:end] if start >= 0 else ""


def _mask(m: re.Match[str], src: str) -> str:
    return MASK


def _keep_prefix(group: str) -> _Handler:
    return lambda m, src: _g(m, src, group) + MASK


def _pair(m: re.Match[str], src: str) -> str:
    key = _g(m, src, "pk")
    val = _g(m, src, "pv")
    if val[:1] in ('"', "'") and len(val) >= 2 and val[-1] == val[0]:
        if len(val) == 2:  # an empty value reveals nothing
            return key + val
        return key + val[0] + MASK + val[0]
    if val[:1] in ('"', "'"):
        return key + val[0] + MASK
    return key + MASK


def _pem(m: re.Match[str], src: str) -> str:
    label = _g(m, src, "pemlabel")
    return f"-----BEGIN {label}-----{MASK}-----END {label}-----"


# Order matters where two rules could match at the same position: the first one wins.
_RULES: tuple[_Rule, ...] = (
    # PEM private keys (also with escaped "\n" inside JSON strings; a truncated block is masked to the end)
    (
        ("private key",),
        r"-----BEGIN (?P<pemlabel>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?"
        r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        _pem,
    ),
    # Authorization header / field: keep the scheme, mask the credentials
    (
        ("authorization",),
        r"(?i)(?P<ak>\bauthorization[\"']?\s*[:=]\s*[\"']?(?>(?:(?:bearer|basic|token|digest|negotiate|"
        r"apikey|sharedkey)\s+)?))(?!\[redacted\])[^\s\"',;]+",
        _keep_prefix("ak"),
    ),
    # Bearer tokens in free text (the token must look like one: contains a digit or is long)
    (
        ("bearer",),
        r"(?i)(?P<bk>\bbearer\s+)(?!\[redacted\])(?=[A-Za-z0-9._~+/=-]*[0-9])[A-Za-z0-9._~+/-]{8,}=*",
        _keep_prefix("bk"),
    ),
    # JWTs (header.payload.signature, base64url, header starts with {" → eyJ)
    (
        ("eyj",),
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
        _mask,
    ),
    # GitHub tokens
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\b(?P<gh>gh[pousr]_)[A-Za-z0-9]{30,}\b", _keep_prefix("gh")),
    (("github_pat_",), r"\b(?P<ghpat>github_pat_)[A-Za-z0-9_]{22,}", _keep_prefix("ghpat")),
    # GitLab personal access tokens
    (("glpat-",), r"\b(?P<gl>glpat-)[A-Za-z0-9_-]{20,}", _keep_prefix("gl")),
    # Slack tokens and incoming webhooks
    (("xox",), r"\b(?P<slack>xox[abposer]-)[A-Za-z0-9-]{10,}", _keep_prefix("slack")),
    (
        ("hooks.slack.com",),
        r"(?P<slackhook>https://hooks\.slack\.com/services/)[A-Za-z0-9/_-]+",
        _keep_prefix("slackhook"),
    ),
    # OpenAI / Anthropic style keys: sk-<32+ alnum> (legacy), sk-proj-/sk-svcacct-/sk-admin-/sk-ant-...
    (
        ("sk-",),
        r"(?<![A-Za-z0-9_-])(?P<skp>sk-(?:proj|svcacct|admin|ant(?:-api\d\d)?)-)[A-Za-z0-9_-]{32,}",
        _keep_prefix("skp"),
    ),
    (("sk-",), r"(?<![A-Za-z0-9_-])(?P<sk>sk-)[A-Za-z0-9]{32,}(?![A-Za-z0-9_-])", _keep_prefix("sk")),
    # Stripe keys
    (
        ("_live_", "_test_"),
        r"\b(?P<stripe>(?:sk|rk|pk)_(?:live|test)_)[A-Za-z0-9]{16,}",
        _keep_prefix("stripe"),
    ),
    # AWS access key ids
    (
        ("akia", "asia", "abia", "acca", "aroa", "aida"),
        r"\b(?P<aws>(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA))[A-Z0-9]{16}\b",
        _keep_prefix("aws"),
    ),
    # GCP API keys and OAuth access tokens
    (("aiza",), r"\b(?P<gcp>AIza)[0-9A-Za-z_-]{35}", _keep_prefix("gcp")),
    (("ya29.",), r"\b(?P<ya29>ya29\.)[0-9A-Za-z_-]{20,}", _keep_prefix("ya29")),
    # Azure AD client secrets (xxx8Q~...) and SAS signatures (sig=...)
    (
        ("q~",),
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
        _mask,
    ),
    (("sig=",), r"(?P<sas>[?&;]sig=)(?!\[REDACTED\])[A-Za-z0-9%+/=]{10,}", _keep_prefix("sas")),
    # npm and Hugging Face tokens
    (("npm_",), r"\b(?P<npm>npm_)[A-Za-z0-9]{36}\b", _keep_prefix("npm")),
    (("hf_",), r"\b(?P<hf>hf_)[A-Za-z0-9]{30,}\b", _keep_prefix("hf")),
    # credentials in URLs: scheme://user:password@host (user kept; empty user as in redis://:pw@h)
    (
        ("://",),
        r"(?P<url>\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s/:@\"'<>]*:)(?!\[REDACTED\]@)[^\s/@\"'<>]+(?=@)",
        _keep_prefix("url"),
    ),
    # command-line flags given as two words: --password VALUE, --token VALUE
    (
        _FLAG_TRIGGERS,
        r"(?i)(?P<fk>(?<![A-Za-z0-9_-])--?[A-Za-z0-9-]*?(?:password|passwd|passphrase|token|secret|"
        r"api-?key|access-key|secret-key|client-secret)\s+)(?![\[-])[^\s\"']+",
        _keep_prefix("fk"),
    ),
    # key=value, key: value, "key": "value", --key=value, key = 'value' (key names a secret)
    (
        _SECRET_KEY_TRIGGERS,
        # anchored on the secret word that ends the key (the key's own prefix needs no matching)
        r"(?i)(?P<pk>(?:" + _SECRET_KEY_WORDS + r")[\"']?(?:\s*=|:)\s*)"
        r"(?!(?:true|false|null|none|nil|yes|no|~)\b)"
        r"(?P<pv>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"
        r"|[\"']?(?![\[{(<])(?:[^\s,;&\"'}\])>\[]|\[redacted\])+)",
        _pair,
    ),
)


_TRIGGERS: tuple[tuple[str, ...], ...] = tuple(r[0] for r in _RULES)
# Text whose lower-casing changes its length is matched as is, with IGNORECASE, where Unicode case
# folding (ſ ~ s, ı ~ i) lets spellings through that the precise lower-case triggers above do not
# name: there the two key-word rules keep the broad one-word triggers they always had.
_BROAD: Mapping[tuple[str, ...], tuple[str, ...]] = {
    _FLAG_TRIGGERS: ("pass", "token", "secret", "key"),
    _SECRET_KEY_TRIGGERS: ("pass", "secret", "token", "key", "cred", "cookie", "session", "connection"),
}
_TRIGGERS_BROAD: tuple[tuple[str, ...], ...] = tuple(_BROAD.get(t, t) for t in _TRIGGERS)


_CASELESS: tuple[bool, ...] = tuple(r[1].startswith("(?i)") for r in _RULES)


@functools.lru_cache(maxsize=512)
def _combined(
    active: tuple[int, ...], ignorecase: bool = False
) -> tuple[re.Pattern[str], tuple[_Handler, ...]]:
    """One alternation of the given rules (compiled once per combination, then cached)."""
    parts: list[str] = []
    handlers: list[_Handler] = []
    for n, idx in enumerate(active):
        _triggers, pattern, handler = _RULES[idx]
        parts.append(f"(?P<r{n}>{pattern.removeprefix('(?i)')})")
        handlers.append(handler)
    return re.compile("|".join(parts), re.IGNORECASE if ignorecase else 0), tuple(handlers)


def _run(regex: re.Pattern[str], handlers: tuple[_Handler, ...], src: str, scan: str) -> str:
    pieces: list[str] = []
    last = 0
    for m in regex.finditer(scan):
        pieces.append(src[last : m.start()])
        pieces.append(handlers[int((m.lastgroup or "r0")[1:])](m, src))
        last = m.end()
    if not pieces:
        return src
    pieces.append(src[last:])
    return "".join(pieces)


def _any_of(words: Iterable[str]) -> str:
    """A regex finding any of `words`, as a trie of alternations (`a(?:bia|cca|...)|b...`).

    It matches exactly where one of the words starts (a word that is a prefix of others ends the
    branch: finding it is enough), but tries one branch per character instead of every word, so
    the common "no trigger at all" answer costs a third of a plain `w1|w2|...` alternation.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        if "" in node:
            return ""
        alts = [re.escape(ch) + emit(node[ch]) for ch in sorted(node)]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(trie)


def _rules_by_word(triggers: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, frozenset[int]], ...]:
    by_word: dict[str, set[int]] = {}
    for i, words in enumerate(triggers):
        for word in words:
            by_word.setdefault(word, set()).add(i)
    return tuple((word, frozenset(rules)) for word, rules in by_word.items())


# Every precise trigger contains a broad one, so text without a broad trigger has no trigger at all.
_ANY_TRIGGER = re.compile(_any_of({t for trig in _TRIGGERS_BROAD for t in trig}))
_ANY_PRECISE_TRIGGER = re.compile(_any_of({t for trig in _TRIGGERS for t in trig}))
_RULES_BY_WORD = _rules_by_word(_TRIGGERS)
_RULES_BY_WORD_BROAD = _rules_by_word(_TRIGGERS_BROAD)


def _apply_rules(text: str) -> str:
    low = text.lower()
    if _ANY_TRIGGER.search(low) is None:  # the common case: nothing that could be a secret
        return text
    if len(low) == len(text):
        if _ANY_PRECISE_TRIGGER.search(low) is None:  # "connection refused", "key MISSING", ...
            return text
        by_word = _RULES_BY_WORD
    else:
        by_word = _RULES_BY_WORD_BROAD
    found: set[int] = set()
    for word, rules in by_word:
        if word in low:
            found |= rules
    if not found:
        return text
    active = sorted(found)
    exact = tuple(i for i in active if not _CASELESS[i])
    if exact:
        text = _run(*_combined(exact), text, text)
    caseless = tuple(i for i in active if _CASELESS[i])
    if caseless:
        low = text.lower()
        if len(low) == len(text):
            text = _run(*_combined(caseless), text, low)
        else:  # lower-casing changed lengths (rare Unicode): match the original text, IGNORECASE
            text = _run(*_combined(caseless, True), text, text)
    return text


# Names of env vars / keys whose *values* are secret. Split into words so `MONKEY` or
# `secretName` do not count but `DB_PASSWORD`, `apiKey`, `AWS_SECRET_ACCESS_KEY` do.
_STRONG_NAME_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "creds",
        "private",
        "dsn",
    }
)
# Weak words make a name secret only as its last word: `API_KEY`, `DB_PASS` (not `KEY_PREFIX`).
_WEAK_NAME_WORDS = frozenset({"key", "keys", "pass", "pwd", "auth", "cookie", "sig", "signature"})
_NOT_SECRET_SUFFIX = frozenset(
    {
        "name",
        "ref",
        "file",
        "path",
        "id",
        "url",
        "uri",
        "dir",
        "length",
        "ttl",
        "expiry",
        "timeout",
        "enabled",
        "type",
        "mode",
        "version",
        "header",
        "prefix",
        "endpoint",
        "issuer",
        "audience",
        "algorithm",
        "lifetime",
        "size",
        "count",
        "seconds",
    }
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_TRIVIAL_VALUE = re.compile(r"(?i)^(?:true|false|yes|no|on|off|null|none|nil|enabled|disabled|\d{1,5})$")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a variable/key name looks secret: `DB_PASSWORD`, `apiKey` (not `secretName`, `TOKEN_FILE`)."""
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    if not words or words[-1] in _NOT_SECRET_SUFFIX:
        return False
    # a weak word alone ("key", "auth") names a field, not a secret: `key: REDIS_URL` in a keyRef
    weak = len(words) > 1 and words[-1] in _WEAK_NAME_WORDS
    return weak or any(w in _STRONG_NAME_WORDS for w in words)


def _useful_literal(value: str) -> bool:
    v = value.strip()
    return len(v) >= 4 and not _TRIVIAL_VALUE.match(v) and v not in MASK


_POD_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def secret_env_values(items: Iterable[Mapping[str, Any]]) -> set[str]:
    """Literal env `value`s with secret-looking names in the pod specs of these objects."""
    out: set[str] = set()
    controllers: set[str] = set()
    for obj in items:
        kind = str(obj.get("kind", ""))
        path = _POD_TEMPLATE_PATHS.get(kind)
        if path is None:
            continue
        if kind == "Pod":  # replicas of one controller share its pod template: read one of them
            for owner in (obj.get("metadata") or {}).get("ownerReferences") or ():
                if isinstance(owner, dict):
                    uid = str(owner.get("uid") or owner.get("name"))
                    break
            else:
                uid = None
            if uid is not None:
                if uid in controllers:
                    continue
                controllers.add(uid)
        spec: Any = obj
        for step in path:
            spec = spec.get(step) if isinstance(spec, dict) else None
        if not isinstance(spec, dict):
            continue
        for key in ("containers", "initContainers", "ephemeralContainers"):
            for c in spec.get(key) or ():
                if not isinstance(c, dict):
                    continue
                for env in c.get("env") or ():
                    if not isinstance(env, dict):
                        continue
                    value = env.get("value")
                    if (
                        isinstance(value, str)
                        and is_secret_name(str(env.get("name", "")))
                        and _useful_literal(value)
                    ):
                        out.add(value)
    return out


class Redactor:
    """Masks secrets in text and JSON-like data; built once, reused for every string.

    `values` are literal secrets (e.g. env values from pod specs) masked wherever they appear,
    in addition to the built-in patterns.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        # longest first, so a value containing another one is masked whole
        self.values: tuple[str, ...] = tuple(
            sorted({v for v in values if _useful_literal(v)}, key=lambda v: (-len(v), v))
        )

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> Redactor:
        """A redactor that also masks the snapshot's literal secrets: secret-named env values of pod
        specs, and secret-named ConfigMap keys (a password put in a ConfigMap is still a password)."""
        values = secret_env_values(itertools.chain.from_iterable(map(snapshot.of_kind, _POD_TEMPLATE_PATHS)))
        for cm in snapshot.of_kind("ConfigMap"):
            data = cm.get("data")
            if isinstance(data, dict):
                values.update(
                    v
                    for k, v in data.items()
                    if isinstance(v, str) and len(v) <= 4096 and is_secret_name(str(k)) and _useful_literal(v)
                )
        return cls(values)

    def redact(self, text: str) -> str:
        """Mask every secret in `text`: the known literal values first, then the patterns."""
        if not text:
            return text
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return _apply_rules(text)

    __call__ = redact

    def redact_obj(self, obj: Any) -> Any:
        """Redact nested JSON-like data: strings are redacted, values under secret-named keys masked.

        Also masks Kubernetes env entries (`{"name": "DB_PASSWORD", "value": "..."}`). Returns a new
        structure; tuples stay tuples.
        """
        return self._redact_obj(obj, self.redact)

    def _redact_obj(self, obj: Any, text: Callable[[str], str]) -> Any:
        if isinstance(obj, str):
            return text(obj)
        if isinstance(obj, Mapping):
            secret_entry = (
                "value" in obj and isinstance(obj.get("name"), str) and is_secret_name(str(obj["name"]))
            )
            out: dict[Any, Any] = {}
            for k, v in obj.items():
                if (secret_entry and k == "value") or (isinstance(k, str) and _masks_value(k, v)):
                    out[k] = MASK if v not in ("", None) else v
                else:
                    out[k] = self._redact_obj(v, text)
            return out
        if isinstance(obj, list):
            return [self._redact_obj(v, text) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_obj(v, text) for v in obj)
        return obj

    def redact_finding(self, finding: Finding) -> Finding:
        """A copy of a finding with every text field (and cause detail) redacted."""
        return self._redact_finding(finding, self.redact)

    def _redact_finding(self, finding: Finding, text: Callable[[str], str]) -> Finding:
        from aiops.model.findings import Cause

        summary = text(finding.summary)
        evidence = tuple(text(e) for e in finding.evidence)
        remediation = text(finding.remediation)
        cause = finding.cause
        if cause is not None:
            detail = self._redact_obj(dict(cause.detail), text)
            if detail != cause.detail:
                cause = Cause(cause.type, detail)
        if (
            summary == finding.summary
            and evidence == finding.evidence
            and remediation == finding.remediation
            and cause is finding.cause
        ):
            return finding  # nothing to mask (the common case): no copy
        return dataclasses.replace(
            finding, summary=summary, evidence=evidence, remediation=remediation, cause=cause
        )

    def redact_diagnosis(self, diagnosis: Diagnosis) -> Diagnosis:
        """A copy of a diagnosis with every finding and note redacted.

        Findings repeat the same texts (remediations, restart counts, event lines of one
        workload's replicas): each distinct string is redacted once.
        """
        done: dict[str, str] = {}

        def text(value: str) -> str:
            out = done.get(value)
            if out is None:
                out = done[value] = self.redact(value)
            return out

        return dataclasses.replace(
            diagnosis,
            findings=tuple(self._redact_finding(f, text) for f in diagnosis.findings),
            notes=tuple(text(n) for n in diagnosis.notes),
        )


def _masks_value(key: str, value: Any) -> bool:
    # Only scalar values under a secret-named key are masked; mappings/lists are walked instead
    # (`secret: {secretName: x}` in a volume is structure, not a secret).
    return isinstance(value, str | int | float) and not isinstance(value, bool) and is_secret_name(key)


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """Mask every secret the built-in patterns recognise in `text` (idempotent)."""
    return _DEFAULT.redact(text)


def redact_obj(obj: Any) -> Any:
    """Redact nested JSON-like data with the built-in patterns (see `Redactor.redact_obj`)."""
    return _DEFAULT.redact_obj(obj)


def redact_env_values(text: str, values: Iterable[str]) -> str:
    """Mask the given literal secret values (and every built-in pattern) wherever they appear in `text`."""
    return Redactor(values).redact(text)
