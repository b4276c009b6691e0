"""The build a parallel build staged in S3 is, from its two Jobs (pure): the Indexed Job whose
shards stage (render/job.py) and the merge Job that publishes (render/merge_job.py).

- shards running, retrying or failed: the shards' build, a failure naming the shard
  (observe.build_of), and no merge: the old version keeps serving;
- every shard staged, no merge Job yet: running ("Merging"), and the plan creates it;
- a merge Job: its build, read as the index Job's (its result is status.index; its failure names
  the merge Job and keeps the old version serving).
"""

from __future__ import annotations

import dataclasses

from oozo_operator.observe import Build


def after_shards(shards: Build, merge: Build | None, merge_job: str) -> Build:
    """`shards`: observe.build_of of the Indexed Job; `merge`: of the merge Job named
    `merge_job`, None while it does not exist."""
    if shards.state != "succeeded":
        return shards
    if merge is None:
        message = f"{shards.message}; Job {merge_job} merges them and publishes"
        return Build("running", merge_job, reason="Merging", message=message, merge_due=True)
    if merge.state == "running":
        message = f"Job {merge_job} is merging the staged shards of Job {shards.job}"
        return dataclasses.replace(merge, reason="Merging", message=message)
    return merge
