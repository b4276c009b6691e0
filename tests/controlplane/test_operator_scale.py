"""Fifty corpora applied at once all converge to Ready, each with exactly one index Job; the
test plays the kubelet for all of them and reports how long convergence took."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from devcluster.kubelet.player import KubeletPlayer
from devcluster.ragcorpus import GROUP, PLURAL, VERSION, condition, docs_configmap, volume_for
from devcluster.waiting import wait_for
from tests.operator_builders import make_corpus, on_local_node, with_small_pods
from tests.operator_support import Operator

COUNT = 50


def test_fifty_corpora_converge(
    control_plane: Any, api: client.ApiClient, ns: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    names = [f"c{i:02d}" for i in range(COUNT)]
    for name in names:
        docs_configmap(core, ns, f"{name}-docs")
        volume_for(core, ns, name)
    operator = Operator(control_plane.env(), tmp_path_factory.mktemp("scale")).start()
    kubelet = KubeletPlayer(core).autoplay(ns)  # index pods report a result; server pods become Ready
    try:
        began = time.monotonic()
        for name in names:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, make_corpus(name, on_local_node, with_small_pods)
            )

        def all_ready() -> bool:
            listed = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
            assert isinstance(listed, dict)  # the client types it `object`
            items = listed["items"]
            return len(items) == COUNT and all(condition(o, "Ready").get("status") == "True" for o in items)

        wait_for(f"{COUNT} corpora Ready", all_ready, 240, every=1)
        seconds = time.monotonic() - began
        print(f"\n{COUNT} corpora Ready in {seconds:.1f}s")
        jobs = client.BatchV1Api(api).list_namespaced_job(ns).items
        instances = []
        for j in jobs:
            assert j.metadata is not None and j.metadata.labels is not None
            instances.append(j.metadata.labels["app.kubernetes.io/instance"])
        assert sorted(instances) == names
        deployments = client.AppsV1Api(api).list_namespaced_deployment(ns).items
        assert len(deployments) == COUNT
        (tmp_path_factory.getbasetemp() / "scale-seconds.txt").write_text(f"{seconds:.1f}\n")
    finally:
        kubelet.stop()
        operator.stop()
