"""`make demo`: the whole Oozo loop on this machine, no Docker needed.

A real control plane (etcd, kube-apiserver, controller-manager, scheduler) starts on
loopback; the RagCorpus CRD and the real operator are installed; examples/quickstart (a
ConfigMap of .docx files and a RagCorpus) is applied with its pods placed on `oozo-local-0`,
whose pods the local kubelet runs as processes. The demo waits for Ready, asks the generated
Service a question, prints the answer and its sources, and removes everything on the way out
(also on Ctrl-C). Non-interactive: `OOZO_DEMO_QUESTION` sets the question.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from devcluster import REPO, procs
from devcluster.controlplane.plane import ControlPlane
from devcluster.kubelet.services import resolve_service
from devcluster.stack import Stack, kubectl

NAMESPACE = "oozo-demo"
OVERLAY = REPO / "examples" / "quickstart" / "demo"
DEFAULT_QUESTION = "What are the purposes of the Constitution, according to its preamble?"
READY_TIMEOUT = 600

# CI logs are not terminals: give tables room instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def intro() -> None:
    console.print(
        Panel.fit(
            "[bold]Oozo demo[/bold]: RagCorpus → index Job → query Deployment → answer, here.\n\n"
            "[green]Real[/green]: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,\n"
            "      the Oozo operator, `oozo index` and `oozo serve` (real model, FAISS, .docx).\n"
            "[yellow]Simulated[/yellow]: the container runtime. Pods scheduled on node oozo-local-0\n"
            "      run as local processes started by a small local kubelet (no images, no\n"
            "      isolation); each pod gets its own loopback address, so the Service's\n"
            "      endpoints are real.",
            border_style="cyan",
        )
    )


def step(text: str) -> None:
    console.print(f"[cyan]▸[/cyan] {text}")


def corpus_name(kubeconfig: Path) -> str:
    out = kubectl(kubeconfig, "get", "ragcorpora", "-n", NAMESPACE, "-o", "name").stdout.split()
    if not out:
        raise RuntimeError(f"{OVERLAY} applied no RagCorpus")
    return out[0].split("/", 1)[1]


def wait_ready(kubeconfig: Path, name: str, stack: Stack) -> None:
    began = time.monotonic()
    last = ""
    with console.status("waiting for Ready…") as status:
        while True:
            corpus = json.loads(
                kubectl(kubeconfig, "get", "ragcorpus", name, "-n", NAMESPACE, "-o", "json").stdout
            )
            conds = {c["type"]: c for c in (corpus.get("status") or {}).get("conditions") or []}
            ready = conds.get("Ready", {})
            pods = kubectl(kubeconfig, "get", "pods", "-n", NAMESPACE, "--no-headers", check=False).stdout
            summary = ", ".join(f"{p.split()[0]} {p.split()[2]}" for p in pods.splitlines() if p.strip())
            line = f"Ready={ready.get('status', '?')} {ready.get('reason', '')}: {ready.get('message', '')}"
            if line != last:
                console.print(f"  [dim]{time.monotonic() - began:5.1f}s[/dim] {line}")
                last = line
            status.update(f"waiting for Ready… {time.monotonic() - began:.0f}s  [dim]{summary}[/dim]")
            if ready.get("status") == "True":
                console.print(f"  [green]Ready[/green] after {time.monotonic() - began:.1f}s")
                return
            if conds.get("Stalled", {}).get("status") == "True":
                raise RuntimeError(f"corpus Stalled: {conds['Stalled'].get('message')}")
            if time.monotonic() - began > READY_TIMEOUT:
                raise TimeoutError(f"not Ready after {READY_TIMEOUT}s:\n{stack.operator_tail()}")
            time.sleep(1)


def ask(kubeconfig: Path, name: str, question: str) -> dict[str, Any]:
    url = resolve_service(kubeconfig, NAMESPACE, name, 80)
    console.print(f"  Service {NAMESPACE}/{name}:80 → endpoint [bold]{url}[/bold] (from its EndpointSlice)")
    resp = httpx.post(
        f"{url}/api/query",
        json={"question": question, "return_sources": True, "top_k": 3},
        timeout=60,
        trust_env=False,
    )
    resp.raise_for_status()
    return resp.json()


def show_answer(question: str, reply: dict[str, Any]) -> None:
    console.print(
        Panel(
            reply.get("answer") or f"(no answer: {reply.get('error')})",
            title=f"Q: {question}",
            border_style="green",
        )
    )
    table = Table(title=f"sources (index version {reply.get('index_version')})")
    for col in ("document", "chunk", "score", "text"):
        table.add_column(col, overflow="fold")
    for s in reply.get("sources") or []:
        text = " ".join(s["text"].split())
        table.add_row(
            s["document"], str(s["chunk"]), f"{s['score']:.3f}", text[:160] + ("…" if len(text) > 160 else "")
        )
    console.print(table)


def run(workdir: Path) -> list[int]:
    """The demo; returns the pids of anything it started that is still alive afterwards."""
    question = os.environ.get("OOZO_DEMO_QUESTION") or DEFAULT_QUESTION
    if not (OVERLAY.parent / "kustomization.yaml").exists():
        raise RuntimeError(
            f"{OVERLAY.parent}/kustomization.yaml is missing: the quickstart example is needed"
        )
    plane = ControlPlane(workdir / "cluster")
    stack: Stack | None = None
    try:
        step("starting the control plane (etcd, kube-apiserver, controller-manager, scheduler)…")
        plane.start()
        console.print(f"  up in {plane.startup_seconds:.1f}s at {plane.server}")
        step("installing the RagCorpus CRD; starting the PV provisioner, local kubelet, `oozo-operator`…")
        stack = Stack(plane.kubeconfig, workdir / "stack").start()
        kc = plane.kubeconfig
        step(f"applying {OVERLAY.relative_to(REPO)} (the quickstart, its pods placed on oozo-local-0)…")
        kubectl(kc, "create", "namespace", NAMESPACE)
        out = kubectl(kc, "apply", "--server-side", "-n", NAMESPACE, "-k", str(OVERLAY)).stdout
        console.print("  " + out.strip().replace("\n", "\n  "))
        name = corpus_name(kc)
        step(f"waiting for ragcorpus/{name} to be Ready (index Job, then the query Deployment)…")
        wait_ready(kc, name, stack)
        columns = "POD:.metadata.name,PHASE:.status.phase,POD-IP:.status.podIP,NODE:.spec.nodeName"
        console.print(kubectl(kc, "get", "pods", "-n", NAMESPACE, "-o", f"custom-columns={columns}").stdout)
        console.print(kubectl(kc, "get", "jobs,deployments,services", "-n", NAMESPACE).stdout)
        console.print("  (these pods are processes on this machine, started by the local kubelet)")
        step("asking the generated Service…")
        show_answer(question, ask(kc, name, question))
        step("kubectl get ragcorpora")
        console.print(kubectl(kc, "get", "ragcorpora", "-n", NAMESPACE).stdout)
    except Exception:
        if stack is not None:
            console.print(Panel(stack.operator_tail(30), title="operator log (tail)", border_style="red"))
        raise
    finally:
        step("cleaning up: operator, pod processes, provisioner, control plane…")
        ours = [pid for _, pid in plane.recorded_pids()]
        if stack is not None:
            operator_pid = stack.operator.pid()
            ours += [*stack.kubelet.pids(), *([operator_pid] if operator_pid else [])]
            stack.stop()
        plane.stop()
    return [pid for pid in ours if procs.alive(pid)]


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    intro()
    workdir = Path(tempfile.mkdtemp(prefix="oozo-demo-"))
    began = time.monotonic()
    code = 0
    try:
        left = run(workdir)
        if left:
            console.print(f"[bold red]processes left running[/bold red]: {left}")
            return 1
        console.print(
            f"[bold green]demo finished[/bold green] in {time.monotonic() - began:.0f}s; nothing left running"
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: everything stopped.")
        code = 130
    except Exception as err:
        console.print(
            f"[bold red]demo failed[/bold red]: {err}\n  logs kept in {workdir} (no process left running)"
        )
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
