"""python -m devcluster.realnode [--dir DIR]: starts a control plane and the real node, prints how
long each step took once the node is Ready, then stops both; the node's stop() raises if anything
of it is left. A quick way to see whether this host can run a real kubelet (as root, cgroup v1).
A temporary folder (no --dir) is removed when all went well."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from devcluster.controlplane.plane import ControlPlane
from devcluster.realnode.node import RealNode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, help="state folder (default: a new temporary one)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="oozo-realnode-"))
    plane = ControlPlane(folder / "controlplane")
    plane.start()
    try:
        node = RealNode(folder / "node", plane)
        node.start()
        try:
            print(json.dumps({"node": node.name, "seconds": node.timings}))
        finally:
            node.stop()
    finally:
        plane.stop()
    print(f"stopped; nothing of the node is left (processes, mounts, cgroups, bridge, Node {node.name})")
    if args.dir is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
