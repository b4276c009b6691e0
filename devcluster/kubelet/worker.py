"""One pod on the local node, from binding to deletion: volumes, processes, probes, restarts,
status, graceful stop. See local.py for the whole picture."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import subprocess
import threading
import time

from devcluster.kube_rest import ApiError
from devcluster.kubelet.container import Container
from devcluster.kubelet.host import PodHost
from devcluster.kubelet.in_container import exec_failed
from devcluster.kubelet.launch import (
    ConfigError,
    decode_data,
    image_for,
    path_table,
    start_failure_reason,
)
from devcluster.kubelet.pod_object import hold, pod_path, release
from devcluster.kubelet.pod_status import pod_status, restarts, termination_message
from devcluster.kubelet.probes import run_pre_stop
from devcluster.kubelet.starting import pre_stop_view, start_run
from devcluster.kubelet.volumes import Volumes

log = logging.getLogger("oozo.local-kubelet")

HOST_IP = "127.0.0.1"
TICK = 0.2  # seconds between looks at processes and probes
MAX_BACKOFF = 20.0  # restart back-off cap (a real kubelet: 300s)
MAX_GRACE = 30.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodWorker(threading.Thread):
    """Runs one pod from its binding to its deletion. All processes of the pod are started and
    reaped on this thread (PR_SET_PDEATHSIG is per thread)."""

    def __init__(self, kubelet: PodHost, pod: dict, addresses: tuple[str, str]) -> None:
        m = pod["metadata"]
        super().__init__(name=f"pod-{m['namespace']}/{m['name']}", daemon=True)
        self.kubelet = kubelet
        self.kube = kubelet.kube
        self.pod = pod
        self.uid = m["uid"]
        self.ip, self.local_ip = addresses  # pod IP in the API, loopback address it listens on
        self.dir = kubelet.workdir / "pods" / f"{m['namespace']}_{m['name']}_{self.uid[:8]}"
        self.rootfs = self.dir / "rootfs"
        self.start_time = _now()
        self.wake = threading.Event()
        self.deleting = False
        self.gone = False
        self.stop_now = False
        self.init = [Container(c, True) for c in pod["spec"].get("initContainers") or []]
        self.main = [Container(c, False) for c in pod["spec"]["containers"]]
        self.volume_dirs: dict[str, str] = {}
        self.last_status: dict | None = None
        self.restart_policy = pod["spec"].get("restartPolicy", "Always")

    # -- called from the watch thread ---------------------------------------------------------

    def update(self, pod: dict, deleted: bool = False) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.deleting = True
        if deleted:
            self.deleting = self.gone = True
        self.wake.set()

    # -- the pod's life -----------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod worker %s crashed", self.name)
            self._kill_all(signal.SIGKILL)

    def _run(self) -> None:
        if not self._hold():
            return
        self._push()
        while not self._prepare():
            if self._wait(2.0):
                return self._finish()
        for c in self.init:
            while True:
                if self._wait(0):
                    return self._finish()
                if c.state.state != "running" and time.monotonic() >= c.restart_at:
                    self._start(c)
                self._reap(c)
                self._push()
                if c.state.state == "terminated" and c.state.exit_code == 0:
                    break
                if c.state.state == "terminated" and self.restart_policy == "Never":
                    self._push()
                    return self._idle_until_deleted()
                self._wait(TICK)
        while True:
            if self._wait(0):
                return self._finish()
            now = time.monotonic()
            for c in self.main:
                if c.state.state != "running" and self._should_start(c) and now >= c.restart_at:
                    self._start(c)
                self._reap(c)
                self._probe(c)
            self._push()
            if all(c.state.state == "terminated" and not self._should_start(c) for c in self.main):
                return self._idle_until_deleted()
            self._wait(TICK)

    @staticmethod
    def _should_start(c: Container) -> bool:
        # A restartable exit has already been turned into waiting/CrashLoopBackOff by
        # _after_exit, so `terminated` here is final and `waiting` means "start when due".
        return c.state.state == "waiting"

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (waking on pod updates); True when the pod must stop."""
        if seconds:
            self.wake.wait(seconds)
            self.wake.clear()
        return self.deleting or self.stop_now

    def _idle_until_deleted(self) -> None:
        while not self._wait(5.0):
            pass
        self._finish()

    # -- volumes --------------------------------------------------------------------------------
    def _prepare(self) -> bool:
        """Materialise every volume; False (with a waiting reason) while something is missing."""
        try:
            (self.dir / "logs").mkdir(parents=True, exist_ok=True)
            self.rootfs.mkdir(parents=True, exist_ok=True)
            self.volume_dirs = Volumes(self.kube, self.kubelet.read_object, self.pod, self.dir).materialise()
            return True
        except (ConfigError, ApiError) as err:
            for c in self.init + self.main:
                c.state.reason, c.state.message = "ContainerCreating", f"volumes: {err}"
            self._push()
            return False

    def _lookup(self, kind: str, name: str) -> dict[str, str] | None:
        obj = self.kubelet.read_object(kind, self.pod["metadata"]["namespace"], name)
        if obj is None:
            return None
        return {k: v.decode(errors="replace") for k, v in decode_data(obj, kind == "secret").items()}

    def _start(self, c: Container) -> None:
        st = c.state
        try:
            run = start_run(self, c.spec, st.restart_count)
        except ConfigError as err:
            self._fail_start(c, start_failure_reason(err), str(err))
            return
        except OSError as err:
            self._fail_start(c, "StartError", str(err))
            return
        if c.proc is not None:
            c.proc.release()  # the previous run's dead container: a node keeps only the last one
        c.proc = run.proc
        popen = c.proc.popen
        self.kubelet.track(popen)
        st.state, st.reason, st.message = "running", "", ""
        st.pid = popen.pid
        st.runtime_id = c.proc.runtime_id
        st.started_at = _now()
        st.ready = False
        st.started = False
        c.started_mono = time.monotonic()
        c.readiness, c.liveness, c.startup = (
            run.probes["readinessProbe"],
            run.probes["livenessProbe"],
            run.probes["startupProbe"],
        )
        for probe in (c.readiness, c.liveness, c.startup):
            if probe:
                probe.schedule(c.started_mono)
        st.started = c.startup is None
        if c.readiness is None and not c.init:
            st.ready = st.started
        log.info("%s: started %s %s", self.name, c.spec["name"], run.describe)

    def _fail_start(self, c: Container, reason: str, message: str) -> None:
        """A container that cannot start: the kubelet keeps it waiting and retries (config
        errors), or (a missing program) counts it as failed so restartPolicy decides."""
        st = c.state
        log.warning("%s: %s cannot start: %s", self.name, c.spec["name"], message)
        if reason in ("CreateContainerConfigError", "CreateContainerError"):
            st.state, st.reason, st.message = "waiting", reason, message
            c.restart_at = time.monotonic() + 2.0
            return
        st.state, st.reason, st.message = "terminated", reason, message
        st.exit_code = 128
        st.started_at = st.finished_at = _now()
        self._after_exit(c)

    def _reap(self, c: Container) -> None:
        if c.proc is None or c.state.state != "running":
            return
        code = c.proc.popen.poll()
        if code is None:
            return
        self._record_exit(c, code)
        self._after_exit(c)

    def _record_exit(self, c: Container, code: int) -> None:
        assert c.proc is not None
        st = c.state
        exit_code = code if code >= 0 else 128 - code  # killed by signal N: 128+N
        file_text = c.proc.term_path.read_text(errors="replace") if c.proc.term_path.exists() else ""
        log_text = c.proc.log_path.read_text(errors="replace") if c.proc.log_path.exists() else ""
        # The dead container stays until the container restarts or the pod goes (_start,
        # _finish), as a node keeps it: podman's listing shows what a finished Job pod ran.
        st.state = "terminated"
        st.exit_code = exit_code
        st.reason = "Completed" if exit_code == 0 else "Error"
        st.message = termination_message(
            file_text, log_text, c.spec.get("terminationMessagePolicy"), exit_code
        )
        if c.proc.runtime_id and exec_failed(exit_code, log_text):  # as for a process: StartError
            st.reason, st.exit_code, st.message = "StartError", 128, log_text.strip()[-1024:]
        st.finished_at = _now()
        st.ready = False
        log.info("%s: %s exited %s", self.name, c.spec["name"], exit_code)
        self.kubelet.untrack(c.proc.popen)

    def _after_exit(self, c: Container) -> None:
        if self.deleting or self.stop_now:
            return
        if not restarts(self.restart_policy, c.init, c.state.exit_code or 0):
            return
        if time.monotonic() - c.started_mono > 60:
            c.backoff = 1.0  # it ran a good while: start the back-off over, as the kubelet does
        c.restart_at = time.monotonic() + c.backoff
        c.backoff = min(c.backoff * 2, MAX_BACKOFF)
        st = c.state
        st.last_terminated = st.terminated_dict()
        st.restart_count += 1
        st.state, st.reason, st.message = (
            "waiting",
            "CrashLoopBackOff",
            f"back-off {c.backoff / 2:.0f}s restarting",
        )

    # -- probes ---------------------------------------------------------------------------------

    def _probe(self, c: Container) -> None:
        if c.state.state != "running":
            return
        failed = c.run_due_probes()
        if failed:
            self._restart_unhealthy(c, failed)

    def _restart_unhealthy(self, c: Container, why: str) -> None:
        log.warning("%s: %s %s, killing it", self.name, c.spec["name"], why)
        assert c.proc is not None
        self._stop_process(c, float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)))
        self._after_exit(c)

    # -- stopping -------------------------------------------------------------------------------

    def _pre_stop(self, c: Container, deadline: float) -> None:
        image = image_for(c.spec.get("image", ""))
        table = path_table(c.spec, self.volume_dirs, "/dev/null", str(self.rootfs), image)
        spec, table = pre_stop_view(c.spec, c.proc, table)
        try:
            run_pre_stop(spec, table, self.local_ip, deadline)
        except Exception as err:
            log.warning("%s: preStop of %s failed: %s", self.name, c.spec["name"], err)

    def _stop_process(self, c: Container, grace: float) -> None:
        if c.proc is None or c.proc.popen.poll() is not None:
            if c.proc is not None and c.state.state == "running":
                self._record_exit(c, c.proc.popen.returncode)
            return
        c.proc.signal(signal.SIGTERM)
        try:
            c.proc.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            c.proc.signal(signal.SIGKILL)
            c.proc.popen.wait()
        self._record_exit(c, c.proc.popen.returncode)

    def _kill_all(self, sig: int) -> None:
        for c in self.init + self.main:
            if c.proc and c.proc.popen.poll() is None:
                c.proc.signal(sig)
                try:
                    c.proc.popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    c.proc.signal(signal.SIGKILL)
                    c.proc.popen.wait()
                c.proc.release()
                self.kubelet.untrack(c.proc.popen)

    def _finish(self) -> None:
        """Graceful stop: preStop hooks, SIGTERM, grace period, SIGKILL; then let the pod go."""
        grace = min(float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)), MAX_GRACE)
        if self.stop_now:
            grace = min(grace, self.kubelet.stop_grace)
        deadline = time.monotonic() + grace
        running = [c for c in self.init + self.main if c.proc and c.proc.popen.poll() is None]
        if running and not self.stop_now:
            hooks = [threading.Thread(target=self._pre_stop, args=(c, deadline)) for c in running]
            for t in hooks:
                t.start()
            for t in hooks:
                t.join()
        for c in running:
            c.proc.signal(signal.SIGTERM)  # type: ignore[union-attr]
        for c in running:
            self._stop_process(c, max(0.0, deadline - time.monotonic()))
        for c in self.init + self.main:
            if c.proc is not None:
                c.proc.release()
        if self.stop_now:
            self._release(delete=False)
            return
        if not self.gone:
            self._push()
        self._release(delete=True)

    def _release(self, delete: bool) -> None:
        """Drop our finalizer; delete the pod for good when it is being deleted."""
        if self.gone:
            return
        try:
            release(self.kube, self.pod, self.uid, delete)
        except ApiError as err:
            if err.status in (409, 422):  # finalizers changed under us: try once more
                time.sleep(0.2)
                return self._release(delete)
            log.warning("%s: releasing failed: %s", self.name, err)

    # -- API ------------------------------------------------------------------------------------

    def _hold(self) -> bool:
        """Put our finalizer on the pod so its deletion waits for a graceful stop."""
        try:
            hold(self.kube, self.pod)
            return True
        except ApiError as err:
            log.warning("%s: cannot hold pod: %s", self.name, err)
            return err.status != 404

    def _push(self) -> None:
        """Write pod status when it changed (conditions keep their transition times)."""
        status = pod_status(
            self.pod,
            [c.state for c in self.init],
            [c.state for c in self.main],
            self.ip,
            HOST_IP,
            self.start_time,
            _now(),
        )
        if status == self.last_status:
            return
        try:
            reply = self.kube.patch(pod_path(self.pod, "/status"), {"status": status})
            self.pod = {**self.pod, "status": reply.get("status", status)}
            self.last_status = status
        except ApiError as err:
            if err.status == 404:
                self.gone = self.deleting = True
            else:
                log.warning("%s: status update failed: %s", self.name, err)
