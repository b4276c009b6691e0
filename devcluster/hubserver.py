"""A real Hugging Face Hub protocol server on loopback for tests: olah (PyPI `olah`, a self-hosted
hub mirror) in offline mode, serving models from local git repositories (its `mirrors-path`), so
no upstream hub is needed (none is reachable here). olah answers the hub's own routes
(/api/models/ID/revision/REV, /ID/resolve/COMMIT/FILE with X-Repo-Commit and ETag headers) and
huggingface_hub downloads from it as from huggingface.co.

olah has no authentication, so a small real HTTP proxy (`TokenGate`, a `proxy.LoopbackProxy`) in
front of it answers as the hub does for gated models: 401 with X-Error-Code GatedRepo without a
token, 401 "Invalid credentials in Authorization header" with a wrong one; requests with the
right token (and for repositories that are not gated) go through to olah unchanged.

olah is installed on first use into its own environment (~/.cache/oozo/olah, pinned version) so
its dependencies never mix with the project's.

    hub = HubServer(tmp_dir).start()
    commit = hub.add_model("oozo-test/minilm", folder)     # a git commit olah serves
    gate = TokenGate(hub.url, token="hf_x", gated={"oozo-test/gated"}).start()
    gate.url, gate.requests                                # what clients asked
    gate.stop(); hub.stop()
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from devcluster import procs
from devcluster.loopback import LoopbackServer
from devcluster.proxy import LoopbackProxy

OLAH_VERSION = "0.5.4"
OLAH_HOME = Path.home() / ".cache" / "oozo" / f"olah-{OLAH_VERSION}"
GIT = ["git", "-c", "user.email=hub@oozo.test", "-c", "user.name=oozo test hub"]


def olah_command() -> str:
    """olah-cli from its own virtual environment, created with this machine's python3 and pip
    (PyPI) on first use."""
    binary = OLAH_HOME / "bin" / "olah-cli"
    if binary.exists():
        return str(binary)
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(OLAH_HOME)], check=True)
    pip = [str(OLAH_HOME / "bin" / "pip"), "install", "-q", f"olah=={OLAH_VERSION}"]
    subprocess.run(pip, check=True)
    return str(binary)


class HubServer(LoopbackServer):
    process_name = "olah"
    log_name = "olah.log"
    start_timeout = 90.0

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the hub server has not been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def mirrors(self) -> Path:
        return self.workdir / "mirrors"

    def add_model(self, repo_id: str, files: Path) -> str:
        """Commit the files of `files` to the model repository `repo_id` (created when new) on
        branch main; returns the commit olah will report. olah reads the repository on every
        request, so a new commit is served at once."""
        repo = self.mirrors / "models" / repo_id
        new = not repo.exists()
        repo.mkdir(parents=True, exist_ok=True)
        if new:
            subprocess.run([*GIT, "init", "-q", "-b", "main", str(repo)], check=True)
        for item in files.iterdir():
            if item.name in (".git", ".gitattributes"):
                continue
            target = repo / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copy2(item, target)
        subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "update"], check=True)
        head = subprocess.run([*GIT, "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True)
        return head.stdout.decode().strip()

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.mirrors.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "olah.toml"
        netloc = f"127.0.0.1:{self.port}"
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'repos-path = "{self.workdir / "repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            f'mirror-netloc = "{netloc}"\nmirror-lfs-netloc = "{netloc}"\n'
            "[accessibility]\noffline = true\n",
            encoding="utf-8",
        )
        return procs.spawn(
            [olah_command(), "-c", str(config)], self.log_path, detached=False, cwd=self.workdir
        )

    def _answers(self) -> bool:
        # any answer from its API (a 401 for an unknown repository) means it is up
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", "/api/models/none/none")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False


class TokenGate(LoopbackProxy):
    """Forwards GET/HEAD to `upstream` (olah); for repositories in `gated` demands `Bearer
    token` and answers as the hub does otherwise. Records each request's (method, path, had a
    token) in `requests`, never the token itself."""

    methods = ("GET", "HEAD")
    thread_name = "token-gate"
    upstream_timeout = 300.0

    def __init__(self, upstream: str, token: str, gated: set[str]) -> None:
        super().__init__(upstream)
        self.token = token
        self.gated = gated
        self.requests: list[tuple[str, str, bool]] = []

    def _repo_of(self, path: str) -> str:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            parts = parts[2:]
        return "/".join(parts[:2])

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        authorization = request.headers.get("Authorization", "")
        self.requests.append((request.command, request.path, bool(authorization)))
        if self._repo_of(request.path) in self.gated:
            refused = b'{"error": "access refused"}'
            if not authorization:
                self.reply(request, 401, refused, {"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"})
                return
            if authorization != f"Bearer {self.token}":
                invalid = {"X-Error-Message": "Invalid credentials in Authorization header"}
                self.reply(request, 401, refused, invalid)
                return
        self.forward(request)
