"""spec.backup.signingKeySecretRef on the operator side, pure: the key reaches the backup
CronJob and the restore Job as OOZO_BACKUP_SIGNING_KEY from a secretKeyRef, never as a value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oozo_contract.backup_settings import BackupSettings, RestoreSettings
from oozo_contract.settings import env_name
from oozo_operator.render import backup, restore
from tests.operator_builders import at, on_local_node
from tests.unit.test_operator_backup import S3, corpus_of, with_backup

SIGNING_ENV = "OOZO_BACKUP_SIGNING_KEY"
KEY_REF = {"name": "backup-signing", "key": "hmac-key"}


def env_of(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (ctr,) = pod_spec["containers"]
    return {e["name"]: e for e in ctr["env"]}


def backup_env(*mods: Any) -> dict[str, dict[str, Any]]:
    cj = backup.render(corpus_of(*mods))
    return env_of(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def restore_env(*mods: Any) -> dict[str, dict[str, Any]]:
    return env_of(restore.render(corpus_of(on_local_node, *mods))["spec"]["template"]["spec"])


def test_the_variable_is_the_one_both_runtime_commands_read() -> None:
    assert env_name(BackupSettings, "backup_signing_key") == SIGNING_ENV
    assert env_name(RestoreSettings, "backup_signing_key") == SIGNING_ENV


def test_the_backup_cronjob_gets_the_signing_key_from_its_secret_by_reference() -> None:
    env = backup_env(with_backup(), at("spec.backup.signingKeySecretRef", KEY_REF))
    assert env[SIGNING_ENV] == {"name": SIGNING_ENV, "valueFrom": {"secretKeyRef": KEY_REF}}
    assert SIGNING_ENV not in backup_env(with_backup())  # no key: backups are not signed


def test_the_restore_job_checks_with_spec_restore_key_else_spec_backup_key() -> None:
    restore_spec = at("spec.restore", {"s3": S3, "version": "latest"})
    own = {"name": "clone-source-signing", "key": "k"}
    from_backup = restore_env(restore_spec, with_backup(), at("spec.backup.signingKeySecretRef", KEY_REF))
    assert from_backup[SIGNING_ENV]["valueFrom"] == {"secretKeyRef": KEY_REF}
    its_own = restore_env(
        restore_spec,
        with_backup(),
        at("spec.backup.signingKeySecretRef", KEY_REF),
        at("spec.restore.signingKeySecretRef", own),
    )
    assert its_own[SIGNING_ENV]["valueFrom"] == {"secretKeyRef": own}
    assert SIGNING_ENV not in restore_env(restore_spec)  # no key anywhere: restored unsigned


def test_the_key_never_changes_the_restore_job_name() -> None:
    """The Job is created once under a name hashed from what it restores: a key added later
    does not start a second restore."""
    restore_spec = at("spec.restore", {"s3": S3, "version": "latest"})
    plain = corpus_of(on_local_node, restore_spec)
    keyed = corpus_of(on_local_node, restore_spec, at("spec.restore.signingKeySecretRef", KEY_REF))
    assert restore.name(plain) == restore.name(keyed)


@pytest.mark.parametrize("ref", [{"name": "s"}, {"key": "k"}, {"name": "Not_A_Name", "key": "k"}])
def test_a_signing_key_reference_needs_a_secret_name_and_a_key(ref: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        corpus_of(with_backup(), at("spec.backup.signingKeySecretRef", ref))
