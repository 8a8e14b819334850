"""A notification through SNS when a DAG run fails, for every DAG that has no on_failure_callback of its own.

Who runs it: in Airflow 3 a DAG's `on_failure_callback` runs in the dag-processor. The scheduler, marking a run
failed, builds a `DagCallbackRequest` only when the serialized DAG says `has_on_failure_callback`
(airflow/models/dagrun.py, `update_state` and `produce_dag_callback`) and hands it to the callback sink, the
database (`executor.send_callback`, callbacks/database_callback_sink.py); the dag-processor re-parses the DAG's
file and runs the callbacks of the DAG it parsed (airflow/dag_processing/processor.py, `_parse_file` ->
`_execute_callbacks` -> `_execute_dag_callbacks`). So only the dag-processor publishes, and only its task role may.

How it is attached: `dag_policy`, a cluster policy Airflow calls for every DAG it parses (dag_processing/dagbag.py,
`bag_dag`), sets the callback when the dag-processor's environment carries TOPIC_ARN_VAR (the env contract sets it
with dagFailureNotifications). It also sets `has_on_failure_callback`: the SDK DAG computes that flag once, when the
DAG is built (sdk/definitions/dag.py, an attrs default), and serialization writes the flag, not the callback
(serialization/serialized_objects.py); a callback set later without the flag would never be requested.

What it sends: the provider's SnsNotifier (amazon provider, notifications/sns.py) with no Airflow connection, so
boto3's default chain finds the ECS task role, and the region taken from the topic's ARN. Its message names the DAG,
the run, why it failed, the failed tasks, and the run's page in the UI when `[api] base_url` is known.
Standard library only at import time: Airflow and the provider are imported when a run fails.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

TOPIC_ARN_VAR = "AIRFLOW_CELERY_DAG_FAILURE_TOPIC_ARN"
"""The SNS topic's ARN, in the dag-processor's environment only (a plain value: an ARN is not a secret)."""
SUBJECT_LIMIT = 100
"""SNS's Subject: at most 100 printable ASCII characters, no line break (the Publish API reference)."""
FAILED_STATES = frozenset({"failed", "upstream_failed"})

log = logging.getLogger(__name__)


def region_of(topic_arn: str) -> str:
    """arn:aws:sns:<region>:<account>:<name> -> <region>: the client must call SNS in the topic's own region."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[2] != "sns" or not parts[3]:
        raise ValueError(f"{TOPIC_ARN_VAR}={topic_arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return parts[3]


def run_url(base_url: str | None, dag_id: str, run_id: str) -> str | None:
    """The run's page in Airflow 3's UI, as Airflow links it (utils/helpers.py `build_airflow_dagrun_url`; the
    task SDK's `log_url` quotes the run id the same way)."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}"


def subject(dag_id: str) -> str:
    text = f"Airflow DAG failed: {dag_id}"
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def message(dag_id: str, run_id: str, reason: str | None, failed_tasks: Iterable[str], url: str | None) -> str:
    lines = [f"DAG {dag_id}, run {run_id}, failed" + (f" ({reason})." if reason else ".")]
    failed = sorted(failed_tasks)
    if failed:
        lines.append(f"Failed tasks: {', '.join(failed)}")
    if url:
        lines.append(f"Run: {url}")
    return "\n".join(lines)


def failed_from_states(states: Mapping[str, Mapping[str, Any]], run_id: str) -> list[str]:
    """The failed tasks of one run from the execution API's task states ({run_id: {task_id: state}})."""
    return sorted(task for task, state in states.get(run_id, {}).items() if str(state) in FAILED_STATES)


def _failed_tasks(context: Mapping[str, Any], dag_id: str, run_id: str) -> list[str]:
    """Every failed task of the run, asked of the dag-processor's supervisor (one GetTaskStates message, one
    query: dag_processing/processor.py handles it); the task that failed the run (the callback context's `ti`)
    when that is not possible."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        found = failed_from_states(RuntimeTaskInstance.get_task_states(dag_id, run_ids=[run_id]), run_id)
        if found:
            return found
    except Exception as error:  # a notification with less detail beats none
        log.info("Failed tasks of %s/%s not read (%s); naming the task that failed the run", dag_id, run_id, error)
    ti = context.get("ti")
    return [ti.task_id] if ti is not None and getattr(ti, "task_id", None) else []


class DagFailureNotifier:
    """The DAG-level on_failure_callback the policy attaches: one SNS message per failed run."""

    def __init__(self, topic_arn: str):
        self.topic_arn = topic_arn
        self.region = region_of(topic_arn)

    def __call__(self, context: Mapping[str, Any]) -> None:
        from airflow.configuration import conf
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        dag_id = context["dag"].dag_id
        run_id = context["run_id"]
        url = run_url(conf.get("api", "base_url", fallback=None), dag_id, run_id)
        text = message(dag_id, run_id, context.get("reason"), _failed_tasks(context, dag_id, run_id), url)
        notifier = SnsNotifier(
            aws_conn_id=None,
            target_arn=self.topic_arn,
            message=text,
            subject=subject(dag_id),
            message_attributes={"dag_id": dag_id, "run_id": run_id},
            region_name=self.region,
        )
        notifier.notify(context)

    def __repr__(self) -> str:
        return f"DagFailureNotifier({self.topic_arn!r})"


def dag_policy(dag) -> None:
    """Attach the SNS notification to a DAG without an on_failure_callback of its own, when the environment names
    a topic (the dag-processor's, with dagFailureNotifications); leave every other DAG as it is."""
    topic_arn = os.environ.get(TOPIC_ARN_VAR)
    if not topic_arn or dag.on_failure_callback:
        return
    dag.on_failure_callback = DagFailureNotifier(topic_arn)
    dag.has_on_failure_callback = True
