"""Development tooling, not product: a simulated cluster on this machine.

A real control plane on loopback (`devcluster.controlplane`), a kubelet that runs the pods of
node oozo-local-0 as local processes and one that only plays their status
(`devcluster.kubelet`), a hostPath PV provisioner, MinIO on loopback, the kstatus verdicts Flux
would give, and `make demo` (`devcluster.demo`). The tests, the benchmarks and `make demo`
import it; the operator and runtime packages never do."""

from pathlib import Path

# The checkout this package runs from: its crds/, hack/ build scripts, examples/ and .venv/.
REPO = Path(__file__).resolve().parents[1]
