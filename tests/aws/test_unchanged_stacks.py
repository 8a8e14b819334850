"""A stack that does not use a new argument deploys exactly what it did before: same resources (URNs), same inputs.

`stacks_before_worker_queues.json` was recorded from main just before worker queues were merged (89aefe0): for
dev and prod as their stack files define them, every resource's URN and a hash of its inputs. Pulumi replaces or
updates a resource when its URN or its inputs change, so equal fingerprints mean `pulumi up` on an existing stack
that does not set `workerQueues` changes nothing. Only two inputs are left out, because they follow the package's
code rather than the config: the image's build-context folder (named by a hash of the files) and the migrate
runner's code archive.

Rewrite the file (`python -m tests.aws.test_unchanged_stacks`) only for a change to the stacks that was meant and
reviewed, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from tests.aws.test_stacks import STACKS, deploy

FINGERPRINTS = Path(__file__).with_name("stacks_before_worker_queues.json")
_CODE_FOLLOWERS = (
    (re.compile(r"/tmp/airflow-celery-build/[0-9a-f]+"), "<build context>"),
    (re.compile(r"<pulumi\.asset\.AssetArchive object at 0x[0-9a-f]+>"), "<code archive>"),
)


def fingerprint(stack: str) -> dict[str, str]:
    """URN -> sha256 of the resource's inputs (sorted JSON, code-following values masked)."""
    found = {}
    for record in deploy(stack).mocks.records:
        text = json.dumps(record.inputs, sort_keys=True, default=str)
        for pattern, mask in _CODE_FOLLOWERS:
            text = pattern.sub(mask, text)
        found[record.urn] = hashlib.sha256(text.encode()).hexdigest()
    return found


def test_dev_and_prod_without_worker_queues_register_the_same_resources_with_the_same_inputs():
    before = json.loads(FINGERPRINTS.read_text())
    for stack in STACKS:
        now = fingerprint(stack)
        assert sorted(set(before[stack]) - set(now)) == [], f"{stack}: resources gone"
        assert sorted(set(now) - set(before[stack])) == [], f"{stack}: resources added"
        changed = sorted(urn.rsplit("::", 1)[-1] for urn in now if now[urn] != before[stack][urn])
        assert changed == [], f"{stack}: inputs changed"


if __name__ == "__main__":
    FINGERPRINTS.write_text(json.dumps({s: fingerprint(s) for s in STACKS}, indent=1, sort_keys=True) + "\n")
    sys.exit(0)
