"""Ingress NAME and HTTPRoute NAME on a real control plane: created when spec.runtime.ingress or
spec.runtime.httpRoute asks for them, pointing at the corpus's Service, changed with the spec and
deleted when the field is removed. The HTTPRoute needs the Gateway API's CRD, installed here from
the sigs.k8s.io/gateway-api module (devcluster/gateway_api.py); the API server validates the
route against that CRD's schema, as it would in a cluster with a gateway."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from devcluster.gateway_api import install_httproute_crd
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition
from devcluster.waiting import wait_for
from tests.controlplane.test_operator_lifecycle import apply_corpus
from tests.operator_builders import at, make_corpus, on_local_node
from tests.operator_support import Operator, corpus

HTTPROUTE_CRD = "httproutes.gateway.networking.k8s.io"


def read(custom: client.CustomObjectsApi, api: client.ApiClient, ns: str, kind: str, name: str) -> Any:
    try:
        if kind == "Ingress":
            found = client.NetworkingV1Api(api).read_namespaced_ingress(name, ns)
            return api.sanitize_for_serialization(found)
        return custom.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "httproutes", name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def patch_runtime(custom: client.CustomObjectsApi, ns: str, name: str, runtime: dict[str, Any]) -> None:
    custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, {"spec": {"runtime": runtime}})


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    return [(o["kind"], o["uid"], o.get("controller")) for o in obj["metadata"]["ownerReferences"]] == [
        ("RagCorpus", uid, True)
    ]


def test_ingress_is_created_changed_and_deleted_with_the_spec(
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    ingress = {
        "className": "nginx",
        "host": "handbook.example.com",
        "path": "/rag",
        "tls": {"clusterIssuer": "letsencrypt"},
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64k"},
    }
    apply_corpus(core, custom, ns, make_corpus("public", on_local_node, at("spec.runtime.ingress", ingress)))
    uid = corpus(custom, ns, "public")["metadata"]["uid"]
    found = wait_for("the Ingress", lambda: read(custom, api, ns, "Ingress", "public"), 30)
    assert owned_by(found, uid)
    assert found["spec"]["ingressClassName"] == "nginx"
    [rule] = found["spec"]["rules"]
    assert rule["host"] == "handbook.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/rag",
            "pathType": "Prefix",
            "backend": {"service": {"name": "public", "port": {"number": 80}}},
        }
    ]
    assert found["spec"]["tls"] == [{"hosts": ["handbook.example.com"], "secretName": "public-tls"}]
    assert found["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/proxy-body-size": "64k",
        "cert-manager.io/cluster-issuer": "letsencrypt",
    }

    patch_runtime(
        custom, ns, "public", {"ingress": {"host": "kb.example.com", "tls": None, "annotations": None}}
    )
    wait_for(
        "the Ingress changed",
        lambda: (
            (
                (i := read(custom, api, ns, "Ingress", "public"))
                and i["spec"]["rules"][0]["host"] == "kb.example.com"
                and "tls" not in i["spec"]
            )
            or None
        ),
        30,
    )
    patch_runtime(custom, ns, "public", {"ingress": None})
    wait_for("the Ingress deleted", lambda: read(custom, api, ns, "Ingress", "public") is None, 30)


def test_a_bad_ingress_is_refused_by_the_api_server_naming_the_field(
    core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    bad = make_corpus(
        "bad",
        at("spec.runtime.ingress", {"host": "Not A Host", "tls": {"issuer": "a", "clusterIssuer": "b"}}),
    )
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, bad)
    assert refused.value.status == 422
    assert "spec.runtime.ingress.host" in str(refused.value.body)
    assert "not both" in str(refused.value.body)


def test_an_http_route_without_the_gateway_api_is_stalled_naming_what_is_missing(
    control_plane: Any, operator: Operator, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    env = control_plane.env()
    # This module's next test installs the CRD; a rerun on the same API server removes it first.
    subprocess.run(
        ["kubectl", "delete", "crd", HTTPROUTE_CRD, "--ignore-not-found", "--wait=true"], env=env, check=True
    )
    route = {"parentRefs": [{"name": "public-gateway"}]}
    apply_corpus(
        core, custom, ns, make_corpus("unrouted", on_local_node, at("spec.runtime.httpRoute", route))
    )

    def stalled() -> dict[str, Any] | None:
        found = condition(corpus(custom, ns, "unrouted"), "Stalled")
        return found if found.get("reason") == "ResourceNotServed" else None

    found = wait_for("Stalled/ResourceNotServed", stalled, 60)
    assert found["status"] == "True"
    assert "HTTPRoute unrouted" in found["message"], found
    assert "does not serve HTTPRoute (gateway.networking.k8s.io/v1)" in found["message"], found


def test_http_route_attaches_the_service_to_the_gateway(
    control_plane: Any,
    operator: Operator,
    api: client.ApiClient,
    core: client.CoreV1Api,
    custom: client.CustomObjectsApi,
    ns: str,
) -> None:
    install_httproute_crd(control_plane.env())
    route = {
        "parentRefs": [{"name": "public-gateway", "namespace": "gateways", "sectionName": "https"}],
        "hostnames": ["handbook.example.com"],
    }
    apply_corpus(core, custom, ns, make_corpus("routed", on_local_node, at("spec.runtime.httpRoute", route)))
    uid = corpus(custom, ns, "routed")["metadata"]["uid"]
    # The API server may answer 404 for a moment after the CRD is Established: the operator's
    # recheck sweep applies the route again (ResourceNotServed is retried).
    found = wait_for("the HTTPRoute", lambda: read(custom, api, ns, "HTTPRoute", "routed"), 90)
    assert owned_by(found, uid)
    spec = found["spec"]
    assert spec["hostnames"] == ["handbook.example.com"]
    assert [(p["name"], p["namespace"], p["sectionName"]) for p in spec["parentRefs"]] == [
        ("public-gateway", "gateways", "https")
    ]
    [rule] = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert [(b["name"], b["port"]) for b in rule["backendRefs"]] == [("routed", 80)]
    patch_runtime(custom, ns, "routed", {"httpRoute": None})
    wait_for("the HTTPRoute deleted", lambda: read(custom, api, ns, "HTTPRoute", "routed") is None, 30)
