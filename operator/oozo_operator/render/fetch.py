"""The `fetch` init container of the index Job, for sources the runtime fetches (s3, http, git).

It runs `oozo fetch` (settings rendered from `oozo_contract.settings.FetchSettings`) into the
source cache on the corpus's volume, SOURCE_CACHE/files, keeping its state (ETags, a Git object
store) in SOURCE_CACHE/state, so a refresh downloads only what changed; the `index`
container then reads that folder. Its result, an `oozo_contract.fetch.FetchResult`, is its own
termination message (a path apart from the index container's), which the operator reads into
status.sourceRevision; a failed fetch ({"error", "reason"}) becomes the corpus's condition
reason (oozo_contract.fetch.SOURCE_FAILURES: SourceUnreachable, SourceAuthFailed, ...).

Credentials reach the container by reference only, never as values the operator read:
- s3: the standard AWS variables from spec.source.s3.credentialsSecret (the keys
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and an optional AWS_SESSION_TOKEN, as for backups), or
  none: the pod then runs as spec.source.s3.serviceAccountName, whose workload identity the AWS
  SDK's default chain picks up;
- git over https/http: OOZO_GIT_USERNAME (optional) and OOZO_GIT_PASSWORD from the keys username
  and password of spec.source.git.credentialsSecret;
- git over ssh: the keys ssh-privatekey and known_hosts of that Secret mounted as read-only files
  (mode 0400; the pod's fsGroup adds group read), named by OOZO_GIT_SSH_KEY_FILE and
  OOZO_GIT_KNOWN_HOSTS_FILE: the key never sits in an environment variable;
- http: the Secret key spec.source.http.headersSecret mounted as a file, OOZO_HTTP_HEADERS_FILE.
"""

from __future__ import annotations

import copy
from typing import Any

from oozo_contract.settings import FetchSettings, env_for
from oozo_operator.render import backup, pod
from oozo_operator.render.corpus import SOURCE_CACHE, Corpus

CONTAINER = "fetch"
# Apart from the index container's /dev/termination-log: each container reports its own result.
TERMINATION_LOG = "/dev/fetch-termination-log"
HEADERS_VOLUME = "http-headers"
HEADERS_DIR = "/var/run/oozo/http-headers"
HEADERS_FILE = f"{HEADERS_DIR}/headers"
GIT_USERNAME_KEY, GIT_PASSWORD_KEY = "username", "password"
# The key of a kubernetes.io/ssh-auth Secret, and the known_hosts next to it.
GIT_SSH_KEY_KEY, GIT_KNOWN_HOSTS_KEY = "ssh-privatekey", "known_hosts"
GIT_SSH_VOLUME = "git-ssh"
GIT_SSH_DIR = "/var/run/oozo/git-ssh"


def files_dir(corpus: Corpus) -> str:
    """Where the fetched documents are: what the index container indexes. When spec.source
    changes, the next fetch leaves only the new source's files in it."""
    return f"{SOURCE_CACHE}/files"


def state_dir(corpus: Corpus) -> str:
    return f"{SOURCE_CACHE}/state"


def result_file(corpus: Corpus) -> str:
    """The fetch's result on the index volume, for the index container (OOZO_FETCH_RESULT_FILE):
    it records the revision in the manifest, and publishes nothing after a skipped fetch."""
    return f"{SOURCE_CACHE}/fetch-result.json"


def source_uris(corpus: Corpus) -> list[str]:
    """The source as `oozo fetch` URIs (docs/runtime.md): s3://BUCKET/PREFIX,
    git+https://HOST/PATH@REF#SUBDIR, or the http(s) URLs themselves."""
    source = corpus.spec.source
    if source.s3:
        return [f"s3://{source.s3.bucket}/{source.s3.prefix}"]
    if source.git:
        subdir = source.git.path.strip("/")
        return [f"git+{source.git.url}@{source.git.ref}" + (f"#{subdir}" if subdir else "")]
    assert source.http, "only fetched sources have a fetch container"
    return list(source.http.urls)


def fetch_env(corpus: Corpus, unless_revision: str = "") -> dict[str, str]:
    """`unless_revision`: the refresh CronJob's published revision (never the index Job's: its
    pod template must not change with every revision)."""
    source = corpus.spec.source
    options: dict[str, Any] = {"unless_revision": unless_revision} if unless_revision else {}
    if source.s3:
        options |= {"s3_path_style": source.s3.path_style, **backup.s3_settings(source.s3)}
    if source.http:
        options |= {"http_refuse_private": corpus.settings.http_source_refuse_private}
    return env_for(
        FetchSettings,
        source=" ".join(source_uris(corpus)),
        into=files_dir(corpus),
        state_dir=state_dir(corpus),
        result_file=result_file(corpus),
        termination_message_path=TERMINATION_LOG,
        **options,
    )


def _secret_ref(name: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional:
        ref["optional"] = True
    return {"secretKeyRef": ref}


def credential_env(corpus: Corpus) -> list[dict[str, Any]]:
    """Environment variables whose values come from the user's Secrets."""
    source = corpus.spec.source
    if source.s3:
        return backup.s3_env(source.s3)
    if source.git and source.git.over_ssh:
        return [
            {"name": "OOZO_GIT_SSH_KEY_FILE", "value": f"{GIT_SSH_DIR}/{GIT_SSH_KEY_KEY}"},
            {"name": "OOZO_GIT_KNOWN_HOSTS_FILE", "value": f"{GIT_SSH_DIR}/{GIT_KNOWN_HOSTS_KEY}"},
        ]
    if source.git and source.git.credentials_secret:
        secret = source.git.credentials_secret
        return [
            # A token alone is enough for most servers: username may be left out of the Secret.
            {"name": "OOZO_GIT_USERNAME", "valueFrom": _secret_ref(secret, GIT_USERNAME_KEY, optional=True)},
            {"name": "OOZO_GIT_PASSWORD", "valueFrom": _secret_ref(secret, GIT_PASSWORD_KEY)},
        ]
    if source.http and source.http.headers_secret:
        return [{"name": "OOZO_HTTP_HEADERS_FILE", "value": HEADERS_FILE}]
    return []


def volumes(corpus: Corpus) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod volumes, fetch container mounts) beyond the index volume and /tmp."""
    git = corpus.spec.source.git
    if git and git.over_ssh and git.credentials_secret:
        ssh_volume = {
            "name": GIT_SSH_VOLUME,
            "secret": {
                "secretName": git.credentials_secret,
                "items": [{"key": k, "path": k} for k in (GIT_SSH_KEY_KEY, GIT_KNOWN_HOSTS_KEY)],
                "defaultMode": 0o400,  # the fsGroup adds group read for the pod's user, nobody else
            },
        }
        return [ssh_volume], [{"name": GIT_SSH_VOLUME, "mountPath": GIT_SSH_DIR, "readOnly": True}]
    http = corpus.spec.source.http
    if not (http and http.headers_secret):
        return [], []
    volume = {
        "name": HEADERS_VOLUME,
        "secret": {
            "secretName": http.headers_secret.name,
            "items": [{"key": http.headers_secret.key, "path": "headers"}],
            "defaultMode": 0o440,  # readable by the pod's group (fsGroup), by nobody else
        },
    }
    return [volume], [{"name": HEADERS_VOLUME, "mountPath": HEADERS_DIR, "readOnly": True}]


def init_container(corpus: Corpus, resources: dict[str, Any], unless_revision: str = "") -> dict[str, Any]:
    """`oozo fetch` as a non-root user on a read-only root filesystem, writing only the source
    cache on the index volume and /tmp; the same image, security context and resources as the
    index container after it (an init container adds nothing to the pod's request that way)."""
    _, mounts = volumes(corpus)
    # Copies: the index container holds equal values, and one rendered object must not alias
    # another's (a YAML dump would show anchors, a later edit would change both).
    return copy.deepcopy(
        {
            "name": CONTAINER,
            "image": corpus.indexer_image,
            "imagePullPolicy": corpus.settings.image_pull_policy,
            "command": ["oozo"],
            "args": [
                "fetch",
                *source_uris(corpus),
                "--into",
                files_dir(corpus),
                "--state-dir",
                state_dir(corpus),
            ],
            "env": [
                *pod.BASE_ENV,
                *({"name": k, "value": v} for k, v in fetch_env(corpus, unless_revision).items()),
                *credential_env(corpus),
            ],
            "resources": resources,
            "securityContext": dict(pod.CONTAINER_SECURITY),
            "terminationMessagePath": TERMINATION_LOG,
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": [*mounts, pod.index_mount(read_only=False), pod.TMP_MOUNT],
        }
    )
