"""Secret NAME-api-key: generated once when auth is on and no Secret is named.

Created, never applied or updated: the key is drawn by the caller (`secrets.token_urlsafe`) and a
409 means it exists already and must be kept — regenerating would lock every client out. The
operator never reads it back; the server gets it through a secretKeyRef."""

from __future__ import annotations

import secrets
from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import Corpus

GENERATED_KEY = "api-key"


def wanted(corpus: Corpus) -> bool:
    auth = corpus.spec.runtime.auth
    return auth.enabled and not (auth.api_key_secret_ref and auth.api_key_secret_ref.name)


def api_key_ref(corpus: Corpus) -> tuple[str, str] | None:
    """(secret name, key) the server reads its accepted API keys from, or None without auth."""
    auth = corpus.spec.runtime.auth
    if not auth.enabled:
        return None
    ref = auth.api_key_secret_ref
    if ref and ref.name and ref.key:
        return ref.name, ref.key
    return corpus.generated_secret_name, GENERATED_KEY


def new_key() -> str:
    return secrets.token_urlsafe(32)


def render(corpus: Corpus, key: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": L.metadata(corpus, corpus.generated_secret_name, L.AUTH),
        "stringData": {GENERATED_KEY: key},
    }
