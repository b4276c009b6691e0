"""Security headers on every response. The API answers JSON that no page should frame, sniff or
run, so its policy allows nothing; the HTML page (routes/ui.py) sends a policy of its own that
allows exactly its one inline script and style, by hash, and calls to this origin."""

from __future__ import annotations

import base64
import hashlib
import re

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus every security header it does not set itself (the page sets its own CSP)."""
    present = {name.lower() for name, _ in headers}
    added = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
    if b"content-security-policy" not in present:
        added.append((b"content-security-policy", API_POLICY.encode()))
    return [*headers, *added]


def _hashes(page: str, tag: str) -> str:
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


def page_policy(page: str) -> str:
    """The page's CSP: its inline script and style by hash, fetches to this origin only, no
    other source of anything (no CDN), never framed."""
    return (
        f"default-src 'none'; script-src {_hashes(page, 'script')}; style-src {_hashes(page, 'style')}; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
