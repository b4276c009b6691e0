"""Volumes of a pod on the local node: each one materialised as a folder of the pod (or, for a
PVC, the folder of its bound hostPath/local PV), as the kubelet mounts them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devcluster.kube_rest import Kube
from devcluster.kubelet.launch import ConfigError, decode_data, field_value, project_items

ReadObject = Callable[[str, str, str], "dict | None"]  # (kind, namespace, name) → object or None


class Volumes:
    def __init__(self, kube: Kube, read_object: ReadObject, pod: dict, pod_dir: Path) -> None:
        self.kube = kube
        self.read_object = read_object
        self.pod = pod
        self.namespace = pod["metadata"]["namespace"]
        self.uid = pod["metadata"]["uid"]
        self.dir = pod_dir

    def materialise(self) -> dict[str, str]:
        """{volume name: local folder}; raises ConfigError/ApiError while something is missing."""
        return {vol["name"]: self._volume(vol) for vol in self.pod["spec"].get("volumes") or []}

    def _write_files(self, target: Path, files: dict[str, bytes], mode: int | None) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if mode is not None:
                path.chmod(mode & 0o777 | 0o600)

    def _volume(self, vol: dict) -> str:
        name = vol["name"]
        ns = self.namespace
        target = self.dir / "volumes" / name
        if "emptyDir" in vol:
            target.mkdir(parents=True, exist_ok=True)
            return str(target)
        if "hostPath" in vol:
            path = Path(vol["hostPath"]["path"])
            if vol["hostPath"].get("type") in ("DirectoryOrCreate",):
                path.mkdir(parents=True, exist_ok=True)
            return str(path)
        if "configMap" in vol or "secret" in vol:
            files = self._object_files(vol)
            if files is not None:
                self._write_files(
                    target, files, vol.get("configMap", vol.get("secret", {})).get("defaultMode")
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
            return str(target)
        if "downwardAPI" in vol:
            files = {
                i["path"]: field_value(self.pod, i["fieldRef"]["fieldPath"]).encode()
                for i in vol["downwardAPI"].get("items") or []
                if "fieldRef" in i
            }
            self._write_files(target, files, None)
            return str(target)
        if "projected" in vol:
            for source in vol["projected"].get("sources") or []:
                self._write_files(target, self._projected(source), None)
            target.mkdir(parents=True, exist_ok=True)
            return str(target)
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            pvc = self.kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}")
            if not pvc or not pvc["spec"].get("volumeName"):
                raise ConfigError(f"persistentvolumeclaim {claim!r} is not bound")
            pv = self.kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
            source = (pv or {}).get("spec", {})
            pv_path: str | None = (source.get("hostPath") or source.get("local") or {}).get("path")
            if not pv_path:
                raise ConfigError(f"volume of claim {claim!r} is neither hostPath nor local")
            Path(pv_path).mkdir(parents=True, exist_ok=True)
            return pv_path
        raise ConfigError(f"volume {name!r}: kind {sorted(set(vol) - {'name'})} not supported locally")

    def _object_files(self, vol: dict) -> dict[str, bytes] | None:
        secret = "secret" in vol
        ref = vol["secret"] if secret else vol["configMap"]
        name = ref.get("secretName") if secret else ref.get("name")
        obj = self.read_object("secret" if secret else "configmap", self.namespace, name)
        if obj is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f"{'secret' if secret else 'configmap'} {name!r} not found")
        return project_items(decode_data(obj, secret), ref.get("items"), name, bool(ref.get("optional")))

    def _projected(self, source: dict) -> dict[str, bytes]:
        meta = self.pod["metadata"]
        if "serviceAccountToken" in source:
            sat = source["serviceAccountToken"]
            sa = self.pod["spec"].get("serviceAccountName", "default")
            body = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "audiences": [sat["audience"]] if sat.get("audience") else [],
                    "expirationSeconds": sat.get("expirationSeconds", 3607),
                    "boundObjectRef": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": meta["name"],
                        "uid": self.uid,
                    },
                },
            }
            reply = self.kube.create(
                f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{sa}/token", body
            )
            return {sat["path"]: reply["status"]["token"].encode()}
        if "configMap" in source or "secret" in source:
            kind = "configMap" if "configMap" in source else "secret"
            files = self._object_files({kind: {**source[kind], "secretName": source[kind].get("name")}})
            return files or {}
        if "downwardAPI" in source:
            return {
                i["path"]: field_value(self.pod, i["fieldRef"]["fieldPath"]).encode()
                for i in source["downwardAPI"].get("items") or []
                if "fieldRef" in i
            }
        raise ConfigError(f"projected source {sorted(source)} not supported locally")

    # -- processes ------------------------------------------------------------------------------
