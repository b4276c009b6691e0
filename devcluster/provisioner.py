"""A PersistentVolume provisioner for the local control plane.

The test cluster has no storage driver, and the scheduler will not place a pod whose
PersistentVolumeClaim is unbound. For every Pending claim this creates a matching `hostPath`
PV (a folder under `workdir`), pre-bound to the claim through `claimRef`; the real PV
controller in kube-controller-manager then binds the pair. When a claim is deleted, its PV
goes Released; this deletes it and its folder (reclaim policy Retain on the object, deletion
done here: the in-tree hostPath deleter only works for /tmp and needs a flag).

    prov = Provisioner(control_plane.kubeconfig, tmp / "pv"); prov.start(); ...; prov.stop()
    python -m devcluster.provisioner --kubeconfig .cluster/kubeconfig --dir .cluster/pv
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import threading
import time
from pathlib import Path

from devcluster.kube_rest import ApiError, Kube

log = logging.getLogger("oozo.provisioner")

LABEL = "oozo.dev/provisioned-by"
LABEL_VALUE = "oozo-test-provisioner"
INTERVAL = 0.5  # seconds between passes


def pv_name(claim: dict) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def pv_for_claim(claim: dict, root: Path) -> dict:
    """The PV that satisfies `claim`: same size, access modes, class and volume mode, reserved
    for it by claimRef (name, namespace and uid, so a recreated claim never gets stale data)."""
    meta, spec = claim["metadata"], claim["spec"]
    path = root / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": pv_name(claim), "labels": {LABEL: LABEL_VALUE}},
        "spec": {
            "capacity": {"storage": (spec.get("resources") or {}).get("requests", {}).get("storage", "1Gi")},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "storageClassName": spec.get("storageClassName") or "",
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def wants_volume(claim: dict) -> bool:
    return (
        (claim.get("status") or {}).get("phase", "Pending") == "Pending"
        and not claim["spec"].get("volumeName")
        and not claim["metadata"].get("deletionTimestamp")
        and (claim["spec"].get("volumeMode") or "Filesystem") == "Filesystem"
    )


class Provisioner:
    """Runs on a background thread; start() returns at once, stop() joins it."""

    def __init__(self, kubeconfig: Path | str, workdir: Path | str) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.root = Path(workdir).resolve()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.created: list[str] = []

    def start(self) -> Provisioner:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="pv-provisioner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> Provisioner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _loop(self) -> None:
        with Kube(self.kubeconfig) as kube:
            while not self._stop.is_set():
                try:
                    self.reconcile(kube)
                except Exception as err:  # an apiserver hiccup must not end provisioning
                    log.warning("provisioner: %s", err)
                self._stop.wait(INTERVAL)

    def reconcile(self, kube: Kube) -> None:
        claims = kube.list("/api/v1/persistentvolumeclaims").get("items") or []
        volumes = kube.list("/api/v1/persistentvolumes").get("items") or []
        existing = {pv["metadata"]["name"] for pv in volumes}
        for claim in claims:
            if wants_volume(claim) and pv_name(claim) not in existing:
                pv = pv_for_claim(claim, self.root)
                Path(pv["spec"]["hostPath"]["path"]).mkdir(parents=True, exist_ok=True)
                Path(pv["spec"]["hostPath"]["path"]).chmod(0o777)
                try:
                    kube.create("/api/v1/persistentvolumes", pv)
                    self.created.append(pv["metadata"]["name"])
                    log.info(
                        "provisioned %s for %s/%s",
                        pv["metadata"]["name"],
                        claim["metadata"]["namespace"],
                        claim["metadata"]["name"],
                    )
                except ApiError as err:
                    if err.status != 409:
                        raise
        for pv in volumes:
            ours = (pv["metadata"].get("labels") or {}).get(LABEL) == LABEL_VALUE
            if ours and (pv.get("status") or {}).get("phase") in ("Released", "Failed"):
                kube.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
                path = Path(pv["spec"]["hostPath"]["path"])
                if path.is_relative_to(self.root):
                    shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--dir", required=True, help="where the hostPath volumes live")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    prov = Provisioner(args.kubeconfig, args.dir).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.is_set():
        time.sleep(0.2)
    prov.stop()


if __name__ == "__main__":
    main()
