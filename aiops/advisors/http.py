"""HTTP plumbing shared by the HTTP advisors: a requests session with bounded urllib3 retries.

Retries cover connection errors and 429/502/503/504 answers (with backoff), never read timeouts (a
slow model is not made slower by asking again). No other I/O here.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CONNECT_TIMEOUT = 5.0


def session(retries: int = 2, backoff: float = 0.5) -> requests.Session:
    """A session whose adapters retry connection failures and transient statuses `retries` times."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=0,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=None,  # POST too: a chat completion or A2A send has no side effect on the cluster
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def error_detail(resp: requests.Response) -> str:
    """The most useful short text of an error response: an API error message, else the body start."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if data.get("message"):
            return str(data["message"])
    return resp.text[:200]
