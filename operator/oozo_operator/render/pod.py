"""Pod pieces every workload of a corpus shares: placement, security, volumes."""

from __future__ import annotations

import copy
from typing import Any

from oozo_operator.render import labels as L
from oozo_operator.render.corpus import INDEX_DIR, TERMINATION_LOG, Corpus

HOSTNAME = "kubernetes.io/hostname"
# Modes where the volume can attach to one node only: all pods of the corpus must share it.
SINGLE_NODE_MODES = {"ReadWriteOnce", "ReadWriteOncePod"}

POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "fsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def single_node_volume(corpus: Corpus) -> bool:
    return bool(SINGLE_NODE_MODES & set(corpus.spec.index.storage.access_modes))


def affinity(corpus: Corpus) -> dict[str, Any] | None:
    """The user's affinity, plus — for a ReadWriteOnce index volume — a required pod affinity
    that puts every pod of this corpus (index Jobs, server replicas, refresh) on the node of
    the others. A RWO volume attaches to one node; co-location is what keeps a second replica,
    an HPA scale-up or the next index Job from a multi-attach error. The first pod matches its
    own term, so it schedules anywhere. Scale-out beyond one node needs ReadWriteMany. The shard
    pods of an S3-staged build mount no volume and may run anywhere (render/staging.py): their
    staging label keeps them out of the term, so no pod is drawn to a node that lacks it."""
    user = copy.deepcopy(corpus.spec.scheduling.affinity) if corpus.spec.scheduling else None
    if not single_node_volume(corpus):
        return user or None
    result: dict[str, Any] = user or {}
    pod_affinity = result.setdefault("podAffinity", {})
    terms = pod_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", [])
    terms.append(
        {
            "labelSelector": {
                "matchLabels": {L.INSTANCE: corpus.name, L.MANAGED_BY: L.MANAGER},
                "matchExpressions": [{"key": L.STAGING, "operator": "DoesNotExist"}],
            },
            "topologyKey": HOSTNAME,
        }
    )
    return result


def placement(corpus: Corpus, *, embeds: bool = False) -> dict[str, Any]:
    """nodeSelector / tolerations / affinity / priorityClassName for any pod spec. A pod that
    `embeds` (the index Job's, the refresh's) also gets spec.embedding's tolerations and
    nodeSelector, on top of spec.scheduling's: a GPU node pool for the model, the server left on
    ordinary nodes."""
    out: dict[str, Any] = {}
    sched = corpus.spec.scheduling
    emb = corpus.spec.embedding if embeds else None
    node_selector = {
        **(sched.node_selector if sched and sched.node_selector else {}),
        **(emb.node_selector if emb and emb.node_selector else {}),
    }
    if node_selector:
        out["nodeSelector"] = node_selector
    tolerations = [
        *(sched.tolerations if sched and sched.tolerations else []),
        *(emb.tolerations if emb and emb.tolerations else []),
    ]
    if tolerations:
        out["tolerations"] = [t.wire() for t in tolerations]
    if sched and sched.priority_class_name:
        out["priorityClassName"] = sched.priority_class_name
    aff = affinity(corpus)
    if aff:
        out["affinity"] = aff
    return out


def index_volume(corpus: Corpus, read_only: bool) -> dict[str, Any]:
    return {"name": "index", "persistentVolumeClaim": {"claimName": corpus.pvc_name, "readOnly": read_only}}


def index_mount(read_only: bool) -> dict[str, Any]:
    return {"name": "index", "mountPath": INDEX_DIR, "readOnly": read_only}


TMP_VOLUME = {"name": "tmp", "emptyDir": {}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
# The root filesystem is read-only: libraries that want a writable home get /tmp.
BASE_ENV = [{"name": "HOME", "value": "/tmp"}]


def job_pod(
    corpus: Corpus,
    labels: dict[str, str],
    *,
    container: str,
    args: list[str],
    env: dict[str, str],
    resources: dict[str, Any],
    index_read_only: bool,
    secret_env: list[dict[str, Any]] | None = None,
    mounts: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    service_account_name: str | None = None,
    embeds: bool = False,
    mount_index: bool = True,
    env_from: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The pod template of every Job a corpus runs (index, refresh, restore, backup): `oozo
    ARGS` as a non-root user on a read-only root filesystem, with the corpus's placement, the
    index volume and a writable /tmp, and the command's JSON result in the termination message,
    where the operator reads it into status. `mounts`/`volumes` come before the index's.
    `service_account_name` gives the pod a workload identity (an S3 source's); its API token is
    still not mounted: identity webhooks project their own token. `embeds`: the pod runs the
    embedding model, so it takes spec.embedding's placement too (`placement`). `mount_index`
    False: no index volume at all (a restore drill restores into scratch space, and must not
    even see the serving index); `env_from`: settings read from a ConfigMap (the server's)."""
    identity = {"serviceAccountName": service_account_name} if service_account_name else {}
    inits = {"initContainers": init_containers} if init_containers else {}
    index_mounts = [index_mount(index_read_only)] if mount_index else []
    index_volumes = [index_volume(corpus, index_read_only)] if mount_index else []
    from_config = {"envFrom": env_from} if env_from else {}
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            **identity,
            "automountServiceAccountToken": False,  # these pods never talk to the API server
            "securityContext": dict(POD_SECURITY),
            **placement(corpus, embeds=embeds),
            **inits,
            "containers": [
                {
                    "name": container,
                    "image": corpus.indexer_image,
                    "imagePullPolicy": corpus.settings.image_pull_policy,
                    "command": ["oozo"],
                    "args": args,
                    **from_config,
                    "env": [
                        *BASE_ENV,
                        *({"name": k, "value": v} for k, v in env.items()),
                        *(secret_env or []),
                    ],
                    "resources": resources,
                    "securityContext": dict(CONTAINER_SECURITY),
                    "terminationMessagePath": TERMINATION_LOG,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": [*(mounts or []), *index_mounts, TMP_MOUNT],
                }
            ],
            "volumes": [*(volumes or []), *index_volumes, TMP_VOLUME],
        },
    }
