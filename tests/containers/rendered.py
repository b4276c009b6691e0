"""The operator's own rendering of a corpus's server pod and the objects it refers to, so the
containers tier runs exactly what the operator would apply."""

from __future__ import annotations

import copy
from typing import Any

from oozo_operator.config import OperatorSettings
from oozo_operator.render import configmap, deployment, secret
from oozo_operator.render.corpus import Corpus
from tests.containers.conftest import SERVER_IMAGE
from tests.operator_builders import make_corpus

API_KEY = "containers-tier-key-6d1f0b"


def rendered_server(version: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the server Deployment's pod template, [its ConfigMap, its API-key Secret]), rendered by
    an operator whose server image (OOZO_SERVER_IMAGE) is the locally built oozo-server."""
    body = make_corpus("docs")
    body["metadata"] = {"namespace": "default", **body["metadata"], "uid": "uid-containers"}
    settings = OperatorSettings(server_image=SERVER_IMAGE)
    corpus = Corpus.from_body(body, settings, source_revision="1")
    model = corpus.spec.embedding.model
    template = deployment.render(corpus, version, model)["spec"]["template"]
    objects = [configmap.render(corpus, model), secret.render(corpus, API_KEY)]
    return copy.deepcopy(template), objects
