"""Who writes a backup prefix: PREFIX/oozo-owner.json, so two corpora never share one.

    {"owner": "<id>", "corpus": "<namespace>/<name>" or null, "claimedAt": ..., "oozoVersion": ...}

The operator passes the corpus's uid as the owner id and `<namespace>/<name>` as the corpus; a
plain `oozo backup` writes as the owner "cli" unless `--owner` names another.

- A backup claims a prefix that has no owner yet (a conditional put, so of two corpora racing for
  a new prefix exactly one wins) and refuses, before writing anything, a prefix owned by another
  id: PrefixOwnedByAnother. Otherwise corpus B's backups would move `latest` under corpus A,
  and A's retention would prune B's versions.
- A restore reports the owner it restored from. When it knows whom it restores for (the operator
  always says), it refuses another corpus's backups unless asked for them by name
  (`spec.restore.fromCorpus`, `oozo restore --from-owner`). The same namespace/name counts as the
  same corpus: a corpus recreated after losing its cluster has a new uid and must get its own
  backups back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oozo_runtime import __version__
from oozo_runtime.backup import errors as e
from oozo_runtime.backup import s3
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.uri import OWNER, OWNER_METADATA, S3Location

CLI_OWNER = "cli"  # the owner id of `oozo backup` run by hand, without --owner
# What S3 answers to a conditional put that lost the race, or a server without conditional writes.
_CLAIM_LOST = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_NO_CONDITIONAL_PUT = frozenset({"NotImplemented"})


@dataclass(frozen=True)
class Owner:
    id: str
    corpus: str | None = None  # <namespace>/<name>, for people and for a recreated corpus

    def describe(self) -> str:
        return f"corpus {self.corpus} (uid {self.id})" if self.corpus else f"owner {self.id!r}"


def read_owner(client: Any, loc: S3Location) -> Owner | None:
    """The owner recorded at the prefix; None when there is none (backups from before owners
    existed, or a new prefix)."""
    text = s3.get_text(client, loc.bucket, loc.key(OWNER))
    if text is None:
        return None
    try:
        data = json.loads(text)
        owner = Owner(id=str(data["owner"]), corpus=data.get("corpus") or None)
    except (ValueError, KeyError, TypeError):
        raise BackupError(
            e.PREFIX_OWNED_BY_ANOTHER,
            f"{loc.uri(OWNER)} is not an owner record Oozo wrote; refusing to use {loc.uri()}",
        ) from None
    return owner


def _put_claim(client: Any, loc: S3Location, me: Owner) -> None:
    from botocore.exceptions import ClientError

    claimed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps(
        {"owner": me.id, "corpus": me.corpus, "claimedAt": claimed_at, "oozoVersion": __version__}, indent=2
    ).encode()
    args = {
        "Bucket": loc.bucket,
        "Key": loc.key(OWNER),
        "Body": body,
        "ContentType": "application/json",
        "Metadata": {OWNER_METADATA: me.id},
    }
    try:
        client.put_object(**args, IfNoneMatch="*")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in _NO_CONDITIONAL_PUT:
            client.put_object(**args)  # read back below: the last writer wins, the other refuses
        elif code not in _CLAIM_LOST:
            raise


def check_owner(client: Any, loc: S3Location, me: Owner) -> bool:
    """Read-only: True when `me` owns the prefix, False when nobody does yet; raises
    PrefixOwnedByAnother when someone else does. A backup asks this before any write and claims
    the prefix only once its artifact is uploaded, so a backup that fails writes nothing."""
    found = read_owner(client, loc)
    if found is not None and found.id != me.id:
        _refuse(loc, me, found)
    return found is not None


def claim(client: Any, loc: S3Location, me: Owner) -> None:
    """Make `me` the owner of a prefix nobody owned a moment ago; raises PrefixOwnedByAnother
    when another backup claimed it first."""
    _put_claim(client, loc, me)
    found = read_owner(client, loc)
    if found is None or found.id != me.id:
        _refuse(loc, me, found)


def _refuse(loc: S3Location, me: Owner, found: Owner | None) -> None:
    who = found.describe() if found else "someone else"
    raise BackupError(
        e.PREFIX_OWNED_BY_ANOTHER,
        f"{loc.uri()} holds the backups of {who}, not of {me.describe()}; nothing was written. "
        "Give each corpus its own prefix (spec.backup.s3.prefix; the default is "
        f"<namespace>/<name>). If that owner is gone for good, delete {loc.uri(OWNER)} to hand "
        "the prefix over",
    )


def check_restore(found: Owner | None, me: Owner | None, from_owner: str | None, loc: S3Location) -> None:
    """Refuse to restore another corpus's backups unless they were asked for by name."""
    if from_owner:
        if found is None or from_owner not in (found.id, found.corpus):
            who = found.describe() if found else "no recorded owner"
            raise BackupError(
                e.PREFIX_OWNED_BY_ANOTHER,
                f"{loc.uri()} holds the backups of {who}, not of {from_owner!r} as asked",
            )
        return
    if found is None or me is None or found.id == me.id:
        return
    if me.corpus and found.corpus == me.corpus:
        return  # the same corpus, recreated: a new uid
    raise BackupError(
        e.PREFIX_OWNED_BY_ANOTHER,
        f"{loc.uri()} holds the backups of {found.describe()}, not of {me.describe()}; to start "
        f"from them on purpose, name their owner: spec.restore.fromCorpus: {found.corpus or found.id} "
        "(oozo restore --from-owner)",
    )
