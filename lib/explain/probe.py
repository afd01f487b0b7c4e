"""Ask a failed endpoint once more, alone: what does it answer? "300 non-2xx
answers" does not say 404 or 500; one request with the same method, headers
and body does (its status line and the start of its body). Failures that
need load (racing writes) may answer 200 alone: the report says so."""
from __future__ import annotations

from urllib.parse import urlsplit

from lib.core.text import status_line

BODY_BYTES = 200


def ask(url: str, endpoint, timeout: float = 5.0) -> str:
    """"404 Not Found: <the body's first 200 bytes>", or "no answer: <why>".
    Only ever sent to the run's own target (127.0.0.1 or the --url given)."""
    import http.client  # here: the views import this module for its wording alone
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = dict(endpoint.headers)
    if endpoint.body is not None and endpoint.content_type:
        headers.setdefault("Content-Type", endpoint.content_type)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request(endpoint.method, path or "/", body=endpoint.body, headers=headers)
        answer = conn.getresponse()
        body = answer.read(BODY_BYTES).decode("utf-8", "replace") if endpoint.method != "HEAD" else ""
        return f"{answer.status} {answer.reason}" + (f": {body}" if body else "")
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer: {exc}"
    finally:
        conn.close()



def answered_2xx(answer: str | None) -> bool:
    """A stored answer (`ask`'s) whose status is 2xx."""
    line = status_line(answer)
    return bool(line) and line[:1] == "2"


def came_with_load(answer: str | None) -> bool:
    """Asked alone, it answered 2xx: the failures needed load (racing writes)."""
    return answered_2xx(answer)


def explain(answer: str | None) -> str | None:
    """One line for a report: what the endpoint answered when asked alone."""
    if not answer:
        return None
    line = status_line(answer)
    if line is None:
        return f"asked once more alone, it did not answer ({answer.removeprefix('no answer: ')})"
    if came_with_load(answer):
        return (f"asked once more alone, it answered {line}: the failures came with load "
                "(concurrent requests racing, e.g. writes to the same row)")
    return f"asked once more alone, it answered {line}"
