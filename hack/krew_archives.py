"""Builds the krew archives of `kubectl oozo` and writes plugin/krew/oozo.yaml, krew's Plugin
manifest, with each archive's sha256.

krew installs a released archive per platform and runs a file from it. The plugin is Python, and
its dependencies are not all pure Python (the Kubernetes client needs pydantic-core; PyYAML,
aiohttp and others carry compiled parts), so an archive holds, per platform, every dependency
pinned in uv.lock installed for each Python it supports (3.11 to 3.13; a compiled module's file
names its Python, so they live side by side in one lib/), the plugin's own package and
`kubectl-oozo`, a launcher that puts lib/ first on the path. The user needs a python3 of those
versions, nothing else: no pip, no pipx, no network.

The archives are reproducible (pinned wheels, sorted tar entries, zero times and owners), so the
manifest's sha256 is the one a release uploads:

    python -m hack.krew_archives            # dist/krew/*.tar.gz and plugin/krew/oozo.yaml
    python -m hack.krew_archives --check    # fails when the manifest does not match the archives

tests/controlplane/test_krew_manifest.py runs krew's own validator on the manifest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "plugin" / "krew" / "oozo.yaml"
LAUNCHER = ROOT / "plugin" / "krew" / "kubectl-oozo"
OUT = ROOT / "dist" / "krew"
VERSION = "v0.1.0"
RELEASES = "https://github.com/oozo-dev/oozo/releases/download"
PYTHONS = ("3.11", "3.12", "3.13")
# krew's os/arch → uv's --python-platform (manylinux_2_28: glibc 2.28, 2018 on)
PLATFORMS = {
    ("linux", "amd64"): "x86_64-manylinux_2_28",
    ("linux", "arm64"): "aarch64-manylinux_2_28",
    ("darwin", "amd64"): "x86_64-apple-darwin",
    ("darwin", "arm64"): "aarch64-apple-darwin",
}
UV = Path(sys.executable).parent / "uv"


def archive_name(os_name: str, arch: str) -> str:
    return f"kubectl-oozo_{VERSION}_{os_name}_{arch}.tar.gz"


def requirements(work: Path) -> Path:
    """The kubectl extra's dependencies, exactly as uv.lock pins them."""
    path = work / "requirements.txt"
    exported = subprocess.run(
        [str(UV), "export", "--frozen", "--extra", "kubectl", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path.write_text(exported)
    return path


def install_lib(reqs: Path, platform: str, lib: Path, work: Path) -> None:
    """Every Python's wheels for the platform merged into lib/; a pure file two Pythons disagree
    on would be a wheel per Python, which one lib/ cannot hold, so that fails the build."""
    for python in PYTHONS:
        target = work / f"{platform}-{python}"
        subprocess.run(
            [
                *(str(UV), "pip", "install", "--quiet", "--target", str(target)),
                *("--python-platform", platform, "--python-version", python),
                *("--only-binary", ":all:", "--no-deps", "-r", str(reqs)),
            ],
            check=True,
        )
        for source in sorted(p for p in target.rglob("*") if p.is_file()):
            dest = lib / source.relative_to(target)
            metadata = any(part.endswith(".dist-info") for part in dest.relative_to(lib).parts)
            if dest.exists() and not metadata and dest.read_bytes() != source.read_bytes():
                raise SystemExit(f"{dest.relative_to(lib)} differs between Pythons on {platform}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)


def add_file(tar: tarfile.TarFile, name: str, data: bytes, executable: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o755 if executable else 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def build_archive(lib: Path, dest: Path) -> str:
    """The archive at dest, and its sha256: launcher, LICENSE, the plugin's package and lib/."""
    files: dict[str, tuple[bytes, bool]] = {
        "kubectl-oozo": (LAUNCHER.read_bytes(), True),
        "LICENSE": ((ROOT / "LICENSE").read_bytes(), False),
    }
    for source in (ROOT / "plugin" / "oozo_kubectl").glob("*.py"):
        files[f"lib/oozo_kubectl/{source.name}"] = (source.read_bytes(), False)
    for source in (p for p in lib.rglob("*") if p.is_file()):
        name = source.relative_to(lib).as_posix()
        if name.startswith("bin/"):
            # The dependencies' console scripts: the plugin runs none, and their shebangs name
            # the building checkout's Python, so they would make the archive differ per checkout.
            continue
        data = source.read_bytes()
        if name.endswith(".dist-info/RECORD"):  # and the RECORD lines that list those scripts
            data = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"bin/"))
        files[f"lib/{name}"] = (data, False)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            add_file(tar, name, *files[name])
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    dest.write_bytes(packed.getvalue())
    return hashlib.sha256(packed.getvalue()).hexdigest()


def manifest(shas: dict[tuple[str, str], str], base_url: str = f"{RELEASES}/{VERSION}") -> str:
    platforms = [
        {
            "selector": {"matchLabels": {"os": os_name, "arch": arch}},
            "uri": f"{base_url}/{archive_name(os_name, arch)}",
            "sha256": shas[(os_name, arch)],
            "bin": "kubectl-oozo",
            "files": [{"from": name, "to": "."} for name in ("kubectl-oozo", "LICENSE", "lib")],
        }
        for os_name, arch in PLATFORMS
    ]
    plugin = {
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": "oozo"},
        "spec": {
            "version": VERSION,
            "homepage": "https://github.com/oozo-dev/oozo",
            "shortDescription": "Operate Oozo RagCorpus resources (RAG services)",
            "description": (
                "Status, questions, reindexing, on-demand backups, index versions and rollback, "
                "logs and support bundles of Oozo RagCorpus resources, the way kubectl cnpg "
                "operates PostgreSQL clusters."
            ),
            "caveats": "Needs python3 (3.11, 3.12 or 3.13) on PATH; nothing else.",
            "platforms": platforms,
        },
    }
    header = "# Generated by hack/krew_archives.py from uv.lock: do not edit (docs/kubectl-plugin.md).\n"
    return header + yaml.safe_dump(plugin, sort_keys=False, width=100)


def build_all(out: Path) -> dict[tuple[str, str], str]:
    out.mkdir(parents=True, exist_ok=True)
    shas = {}
    with tempfile.TemporaryDirectory(prefix="krew-") as tmp:
        work = Path(tmp)
        reqs = requirements(work)
        for (os_name, arch), platform in PLATFORMS.items():
            lib = work / f"lib-{os_name}-{arch}"
            install_lib(reqs, platform, lib, work)
            shas[(os_name, arch)] = build_archive(lib, out / archive_name(os_name, arch))
    return shas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when plugin/krew/oozo.yaml is stale")
    parser.add_argument("--out", type=Path, default=OUT, help="where the archives go (default dist/krew)")
    args = parser.parse_args()
    text = manifest(build_all(args.out))
    if args.check:
        if MANIFEST.read_text() != text:
            raise SystemExit(f"{MANIFEST.relative_to(ROOT)} is stale: run `python -m hack.krew_archives`")
        return
    MANIFEST.write_text(text)
    print(f"wrote {MANIFEST.relative_to(ROOT)} and {len(PLATFORMS)} archives in {args.out}")


if __name__ == "__main__":
    main()
