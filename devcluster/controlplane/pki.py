"""Certificates and kubeconfigs for the local control plane, made with the openssl CLI.

One CA signs the apiserver's serving certificate and every client identity; each component gets
its own identity so that RBAC (and the Node authorizer) see the same users a kubeadm cluster has.
EC P-256 keeps generation to a few milliseconds per certificate.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

DAYS = "3650"


@dataclass(frozen=True)
class Identity:
    """A client certificate: CN is the user name, O the groups."""

    name: str  # file stem and kubeconfig user name
    common_name: str
    organization: str = ""


ADMIN = Identity("admin", "oozo-admin", "system:masters")
CONTROLLER_MANAGER = Identity("kube-controller-manager", "system:kube-controller-manager")
SCHEDULER = Identity("kube-scheduler", "system:kube-scheduler")


def node_identity(node: str) -> Identity:
    """What a kubelet uses: the Node authorizer lets it write only its own Node, Lease and pods."""
    return Identity(f"node-{node}", f"system:node:{node}", "system:nodes")


def _openssl(*args: str, cwd: Path) -> None:
    run = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {run.stderr.strip()}")


def _ec_key(path: Path) -> None:
    _openssl(
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        path.name,
        cwd=path.parent,
    )


def _subject(cn: str, org: str = "") -> str:
    return (f"/O={org}" if org else "") + f"/CN={cn}"


def _sign(pki: Path, stem: str, subject: str, extensions: str) -> None:
    _ec_key(pki / f"{stem}.key")
    _openssl("req", "-new", "-key", f"{stem}.key", "-subj", subject, "-out", f"{stem}.csr", cwd=pki)
    (pki / f"{stem}.ext").write_text(extensions)
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{stem}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        DAYS,
        "-sha256",
        "-extfile",
        f"{stem}.ext",
        "-out",
        f"{stem}.crt",
        cwd=pki,
    )
    for leftover in (f"{stem}.csr", f"{stem}.ext"):
        (pki / leftover).unlink()


def make_pki(pki: Path, client_identities: list[Identity]) -> None:
    """CA, apiserver serving cert, service-account signing key pair, one client cert per identity."""
    pki.mkdir(parents=True, exist_ok=True)
    _ec_key(pki / "ca.key")
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=oozo-local-ca",
        "-days",
        DAYS,
        "-sha256",
        "-out",
        "ca.crt",
        cwd=pki,
    )
    sans = ",".join(
        [
            "IP:127.0.0.1",
            "IP:10.96.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    _sign(
        pki,
        "apiserver",
        _subject("kube-apiserver"),
        f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
        f"subjectAltName={sans}\n",
    )
    for ident in client_identities:
        issue_client_certificate(pki, ident)
    # Service-account tokens: the apiserver signs with the private key, verifies with the public one.
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def issue_client_certificate(pki: Path, ident: Identity) -> None:
    """A client certificate for `ident` from the CA in `pki` (also after start: the real node's
    kubelet gets its own this way)."""
    _sign(
        pki,
        ident.name,
        _subject(ident.common_name, ident.organization),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, pki: Path, ident: Identity, server: str) -> Path:
    """A self-contained kubeconfig (certificates embedded, so the file can be copied anywhere)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "oozo-local",
                "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": ident.name,
                "user": {
                    "client-certificate-data": _b64(pki / f"{ident.name}.crt"),
                    "client-key-data": _b64(pki / f"{ident.name}.key"),
                },
            }
        ],
        "contexts": [{"name": "oozo-local", "context": {"cluster": "oozo-local", "user": ident.name}}],
        "current-context": "oozo-local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
