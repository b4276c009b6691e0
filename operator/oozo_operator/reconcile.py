"""One idempotent reconcile of one RagCorpus: gather → plan → act.

Called for create/update/resume of the RagCorpus and for every event of one of its children,
always with a fresh read of the object, under a per-corpus lock: the same pass from any trigger,
never two at once for one corpus. Deterministic child names make every step safe to repeat:
a restarted operator finds the Job it created, it does not start a second one.

The reads live in `gather`, the decisions in `plan` (what to write) and `outcome` (what status
to report), both pure; `act` does the writes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from oozo_operator import act, gather, passes, policy
from oozo_operator.config import OperatorSettings
from oozo_operator.kube import Kube
from oozo_operator.outcome import Outcome, invalid_spec, refused_by_policy, settle
from oozo_operator.plan import plan
from oozo_operator.render import secret
from oozo_operator.render.corpus import Corpus


def run(
    kube: Kube, namespace: str, name: str, settings: OperatorSettings, full: bool = True
) -> Outcome | None:
    """Reconcile one corpus by name; None when it is gone or being deleted (GC does the rest)."""
    with passes.lock_for(namespace, name):
        body = gather.corpus_body(kube, namespace, name)
        if body is None:
            return None
        outcome = reconcile(kube, body, settings, full)
        if outcome.changed:
            act.write_status(kube, body, outcome)
        return outcome


def reconcile(kube: Kube, body: dict[str, Any], settings: OperatorSettings, full: bool = True) -> Outcome:
    """One pass; `full=False` for child events (see `plan.plan` for what a light pass skips)."""
    try:
        corpus = Corpus.from_body(body, settings)
    except ValidationError as err:
        return invalid_spec(body, err, act.now())
    # The corpus policy comes before every write: a refused spec gets no child at all (its
    # image would otherwise run in a backup CronJob, its Secrets be mounted by a Job).
    rules = policy.from_settings(settings)
    violations = policy.spec_violations(corpus.spec, rules) or gather.unusable_references(kube, corpus, rules)
    if violations:
        return refused_by_policy(body, tuple(violations), act.now())
    observed = gather.before_writes(kube, body, corpus)
    planned = plan(observed, corpus, full=full, new_api_key=secret.new_key())
    refused = act.apply_writes(kube, planned.writes, planned.corpus.uid)
    workloads = gather.after_writes(kube, planned.corpus, observed.status)
    return settle(planned, workloads, refused, act.now())


def source_revision_changed(kube: Kube, body: dict[str, Any]) -> bool:
    """For the re-check sweep: has the source ConfigMap changed since the last pass?"""
    source = ((body.get("spec") or {}).get("source") or {}).get("configMap") or {}
    if not source.get("name"):
        return False
    found = kube.revision("v1", "ConfigMap", body["metadata"]["namespace"], source["name"])
    return bool(found) and found != ((body.get("status") or {}).get("sourceRevision") or "")
