"""How the local kubelet lays out a pod's volumes as folders (API reads replaced by a dict)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import cast

import pytest

from devcluster.kube_rest import Kube
from devcluster.kubelet.launch import ConfigError
from devcluster.kubelet.volumes import Volumes

OBJECTS: dict[tuple[str, str], dict] = {
    ("configmap", "docs"): {
        "data": {"notes.md": "# notes"},
        "binaryData": {"a.docx": base64.b64encode(b"PK\x03\x04docx").decode()},
    },
    ("secret", "openai"): {"data": {"api-key": base64.b64encode(b"sk-test").decode()}},
}


class FakeKube:
    """The two reads a PVC volume needs."""

    def __init__(self, objects: dict[str, dict]) -> None:
        self.objects = objects

    def get(self, path: str) -> dict | None:
        return self.objects.get(path)


def pod(*volumes: dict) -> dict:
    return {
        "metadata": {"name": "handbook-0", "namespace": "docs", "uid": "uid-1", "labels": {"tier": "rag"}},
        "spec": {"volumes": list(volumes), "containers": [{"name": "c"}]},
    }


def materialise(tmp_path: Path, *volumes: dict, kube: FakeKube | None = None) -> dict[str, str]:
    def read(kind: str, _ns: str, name: str) -> dict | None:
        return OBJECTS.get((kind, name))

    # FakeKube stands in for the REST client: it answers only the reads these volumes make
    fake = cast(Kube, kube or FakeKube({}))
    return Volumes(fake, read, pod(*volumes), tmp_path / "pod").materialise()


def test_configmap_secret_emptydir_and_downward_api_become_folders(tmp_path: Path) -> None:
    label = {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels['tier']"}}
    dirs = materialise(
        tmp_path,
        {"name": "source", "configMap": {"name": "docs"}},
        {"name": "picked", "configMap": {"name": "docs", "items": [{"key": "notes.md", "path": "sub/n.md"}]}},
        {"name": "key", "secret": {"secretName": "openai", "defaultMode": 0o400}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "info", "downwardAPI": {"items": [label]}},
        {"name": "absent", "configMap": {"name": "nope", "optional": True}},
    )  # fmt: skip
    assert Path(dirs["source"], "a.docx").read_bytes() == b"PK\x03\x04docx"
    assert Path(dirs["source"], "notes.md").read_text() == "# notes"
    assert sorted(p.name for p in Path(dirs["picked"]).rglob("*")) == ["n.md", "sub"]
    assert Path(dirs["key"], "api-key").read_bytes() == b"sk-test"
    assert Path(dirs["tmp"]).is_dir() and not any(Path(dirs["tmp"]).iterdir())
    assert Path(dirs["info"], "labels").read_text() == "rag"
    assert Path(dirs["absent"]).is_dir()


def test_pvc_resolves_to_the_bound_host_path(tmp_path: Path) -> None:
    host = tmp_path / "pv" / "docs-index"
    kube = FakeKube(
        {
            "/api/v1/namespaces/docs/persistentvolumeclaims/index": {"spec": {"volumeName": "pv-1"}},
            "/api/v1/persistentvolumes/pv-1": {"spec": {"hostPath": {"path": str(host)}}},
        }
    )
    dirs = materialise(
        tmp_path, {"name": "index", "persistentVolumeClaim": {"claimName": "index"}}, kube=kube
    )
    assert dirs["index"] == str(host) and host.is_dir()


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"name": "v", "persistentVolumeClaim": {"claimName": "unbound"}}, "not bound"),
        ({"name": "v", "configMap": {"name": "missing"}}, "configmap 'missing' not found"),
        ({"name": "v", "nfs": {"server": "x", "path": "/"}}, "not supported locally"),
    ],
)
def test_what_cannot_be_mounted_yet_is_a_config_error(tmp_path: Path, volume: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        materialise(tmp_path, volume)
