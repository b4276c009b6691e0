"""The corpus policy in the operator (defence in depth for the ValidatingAdmissionPolicy): the
runtime image's repository, the hosts of every remote endpoint and the opt-in label of every
referenced Secret and PVC, as pure functions over the parsed spec."""

from __future__ import annotations

from typing import Any

import pytest

from oozo_operator import policy as P
from oozo_operator.api.spec import RagCorpusSpec
from oozo_operator.config import OperatorSettings
from tests.operator_builders import Modifier, at, make_corpus, with_auth, with_openai, with_source
from tests.policy_cases import ALLOWED, HOSTS, IMAGES, LABEL, PARAMS, REFUSED, s3

pytestmark = pytest.mark.unit
RULES = P.CorpusPolicy(image_repositories=IMAGES, hosts=HOSTS, opt_in_label=LABEL)


def spec(*mods: Modifier) -> RagCorpusSpec:
    return RagCorpusSpec.model_validate(make_corpus("docs", *mods)["spec"])


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_spec_breaking_the_policy_is_refused_naming_the_field(case: str) -> None:
    mods, field = REFUSED[case]
    problems = P.spec_violations(spec(*mods), RULES)
    assert [p.reason for p in problems] == ["PolicyViolation"]
    assert problems[0].message.startswith(field), problems[0].message


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_a_spec_within_the_policy_is_allowed(case: str) -> None:
    assert P.spec_violations(spec(*ALLOWED[case]), RULES) == []


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_empty_policy_allows_everything(case: str) -> None:
    assert P.spec_violations(spec(*REFUSED[case][0]), P.CorpusPolicy()) == []


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("ghcr.io/oozo-dev/oozo-runtime:0.1.0", "ghcr.io/oozo-dev/oozo-runtime"),
        ("ghcr.io/oozo-dev/oozo-runtime", "ghcr.io/oozo-dev/oozo-runtime"),
        ("registry:5000/team/runtime", "registry:5000/team/runtime"),
        ("registry:5000/team/runtime:1.2@sha256:abc", "registry:5000/team/runtime"),
        ("python:3.11", "python"),
    ],
)
def test_image_repository_drops_tag_and_digest_but_not_a_registry_port(image: str, repository: str) -> None:
    assert P.image_repository(image) == repository


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://LLM.Example.com:8443/v1", "llm.example.com"),
        ("https://llm.example.com@attacker.net/", "attacker.net"),
        ("git@github.com:team/docs.git", "github.com"),
        ("ssh://git@github.com/team/docs.git", "github.com"),
        ("http://[::1]:9000", "::1"),
        ("https://[::1", ""),
    ],
)
def test_host_of_every_url_form_the_spec_allows(url: str, host: str) -> None:
    assert P.host_of(url) == host


def test_every_secret_and_pvc_the_spec_names_is_a_reference() -> None:
    body = spec(
        with_source(pvc={"claimName": "team-docs"}),
        with_openai("llm-key"),
        with_auth({"name": "api-keys", "key": "keys"}),
        at(
            "spec.backup",
            {
                "schedule": "@daily",
                "s3": {**s3(), "credentialsSecret": "backup-creds"},
                "signingKeySecretRef": {"name": "backup-signing", "key": "key"},
            },
        ),
        at(
            "spec.restore",
            {
                "s3": {**s3(), "credentialsSecret": "restore-creds"},
                "signingKeySecretRef": {"name": "restore-signing", "key": "key"},
            },
        ),
    )
    assert {(r.kind, r.name, r.field) for r in P.references(body)} == {
        ("PersistentVolumeClaim", "team-docs", "spec.source.pvc.claimName"),
        ("Secret", "llm-key", "spec.generation.apiKeySecretRef"),
        ("Secret", "api-keys", "spec.runtime.auth.apiKeySecretRef"),
        ("Secret", "backup-creds", "spec.backup.s3.credentialsSecret"),
        ("Secret", "restore-creds", "spec.restore.s3.credentialsSecret"),
        ("Secret", "backup-signing", "spec.backup.signingKeySecretRef"),
        ("Secret", "restore-signing", "spec.restore.signingKeySecretRef"),
    }
    git = spec(with_source(git={"url": "https://git.example.com/d.git", "credentialsSecret": "git-creds"}))
    assert [(r.name, r.field) for r in P.references(git)] == [
        ("git-creds", "spec.source.git.credentialsSecret")
    ]
    http = spec(
        with_source(
            http={
                "urls": ["https://docs.example.com/a.pdf"],
                "headersSecret": {"name": "h", "key": "headers"},
            }
        )
    )
    assert [(r.name, r.field) for r in P.references(http)] == [("h", "spec.source.http.headersSecret")]


@pytest.mark.parametrize(
    ("tls", "references"),
    [
        ({"secretName": "handbook-cert"}, [("handbook-cert", "spec.runtime.ingress.tls.secretName")]),
        # cert-manager writes the Secret: it need not exist, and nobody else's is served.
        ({"secretName": "handbook-cert", "clusterIssuer": "letsencrypt"}, []),
        ({"issuer": "team-ca"}, []),
        ({}, []),  # NAME-tls, which the author must create; the controller serves nothing else
    ],
)
def test_an_ingress_certificate_the_author_names_is_a_reference(
    tls: dict[str, str], references: list[tuple[str, str]]
) -> None:
    body = spec(at("spec.runtime.ingress", {"host": "kb.example.com", "tls": tls}))
    assert [(r.name, r.field) for r in P.references(body)] == references


def test_the_embeddings_server_key_is_a_reference() -> None:
    remote = {"provider": "openai", "model": "e5", "apiKeySecretRef": {"name": "tei-key", "key": "k"}}
    body = spec(at("spec.embedding", remote))
    assert [(r.name, r.field) for r in P.references(body)] == [("tei-key", "spec.embedding.apiKeySecretRef")]


def test_a_model_from_s3_or_a_volume_names_references() -> None:
    from_s3 = {"model": "s3://models/minilm", "s3": {"credentialsSecret": "model-bucket"}}
    assert [(r.kind, r.name, r.field) for r in P.references(spec(at("spec.embedding", from_s3)))] == [
        ("Secret", "model-bucket", "spec.embedding.s3.credentialsSecret")
    ]
    on_volume = {"model": "/models/minilm", "modelVolume": {"claimName": "models"}}
    assert [(r.kind, r.name, r.field) for r in P.references(spec(at("spec.embedding", on_volume)))] == [
        ("PersistentVolumeClaim", "models", "spec.embedding.modelVolume.claimName")
    ]


def test_the_build_staging_credentials_are_a_reference() -> None:
    staged = {"parallelism": 2, "staging": {"s3": {"bucket": "oozo-stage", "credentialsSecret": "stage"}}}
    assert [(r.name, r.field) for r in P.references(spec(at("spec.index.build", staged)))] == [
        ("stage", "spec.index.build.staging.s3.credentialsSecret")
    ]


def test_the_generated_api_key_secret_is_no_reference() -> None:
    assert P.references(spec(with_auth())) == []


LABELLED: dict[str, Any] = {"labels": {LABEL[0]: LABEL[1]}}


@pytest.mark.parametrize(
    ("metadata", "usable"),
    [
        (LABELLED, True),
        ({"labels": {LABEL[0]: "false"}}, False),
        ({"labels": {}}, False),
        ({}, False),
        (None, False),  # does not exist
    ],
)
def test_only_an_opted_in_object_is_usable(metadata: dict[str, Any] | None, usable: bool) -> None:
    ref = P.Reference("Secret", "payments-db", "spec.generation.apiKeySecretRef")
    problem = P.unusable(ref, metadata, LABEL)
    assert (problem is None) == usable
    if problem:
        assert problem.reason == "PolicyViolation"
        assert problem.message.startswith("spec.generation.apiKeySecretRef: Secret payments-db")


def test_a_missing_secret_reads_exactly_like_an_unlabelled_one() -> None:
    """No existence oracle: the status must not tell whether a Secret of that name exists."""
    ref = P.Reference("Secret", "payments-db", "spec.generation.apiKeySecretRef")
    assert P.unusable(ref, None, LABEL) == P.unusable(ref, {"labels": {"team": "payments"}}, LABEL)


def test_settings_read_the_policy_from_the_same_keys_as_the_admission_params(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in PARAMS.items():
        monkeypatch.setenv(key, value)
    assert P.from_settings(OperatorSettings()) == RULES


def test_settings_default_to_no_restriction(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in PARAMS:
        monkeypatch.delenv(key, raising=False)
    assert P.from_settings(OperatorSettings()) == P.CorpusPolicy()


def test_an_opt_in_label_without_a_value_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OOZO_REFERENCE_OPT_IN_LABEL", "rag.oozo.dev/usable-by-corpora")
    with pytest.raises(ValueError, match="key=value"):
        OperatorSettings()
