"""Where a cluster's DAGs come from: baked into the image, or a git repository read by Airflow's GitDagBundle.

One description for every renderer: the AWS component, the local runner, compose and the docs read the bundle
config, the env contract and the access each role needs from here.

- `image` (the default, today's behaviour): the DAGs folder of the image (or, locally, `--dags-dir`), Airflow's
  own unversioned `dags-folder` bundle. A DAG change is an image build and a rollout.
- `git`: `airflow.providers.git.bundles.git.GitDagBundle` (apache-airflow-providers-git), through our subclass
  that stamps the files a new commit changes ahead (bundles/git.py, bundles/freshness.py), `supports_versioning =
  True`: the dag-processor refreshes a tracking clone every `refresh_interval` seconds and records each commit's
  hash as the DAG version; a run keeps the version it was created with, and a worker checks out exactly that
  commit (`task_runner.parse`: `DagBundlesManager().get_bundle(name, version).initialize()`) before it runs a task.

Who touches the bundle, from the pinned Airflow 3.3.2 source (tests/cluster/test_dag_source_airflow.py reads it):
the dag-processor (DagFileProcessorManager refreshes and parses) and the worker (task_runner.parse, and the
Celery worker's stale-version cleanup). The triggerer never does: `jobs/triggerer_job_runner.py` has no bundle
reference (triggers are deserialized from the database). The api-server shows a version's code from the
`dag_code` table and only builds the bundle object for URLs and import-error paths, which need no credential.
So the git credential goes to the dag-processor and the workers only; every Airflow role gets the bundle list.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from airflow_celery.cluster.roles import DAG_PROCESSOR, WORKER

IMAGE = "image"
GIT = "git"
S3 = "s3"
DAG_SOURCES = (IMAGE, GIT, S3)
"""The sources a stack or `local up` can take."""

BUNDLE_NAME = "dags"
"""The bundle's name, shown in the UI and stored with every DAG version and import error."""
GIT_BUNDLE_CLASS = "airflow_celery.bundles.git.StampingGitDagBundle"
"""Airflow's GitDagBundle with one addition: a refresh to a new commit stamps the files it changed ahead, so a
parse of the old file that ends after the refresh does not make the new code wait 30 s (bundles/freshness.py)."""
GIT_CONN_ID = "dags_git"
S3_BUNDLE_CLASS = "airflow_celery.bundles.s3.VersionedS3DagBundle"
"""Our versioned S3 bundle (archives named by content hash and a `current` pointer: bundles/s3.py)."""
S3_CONN_ID = "dags_s3"
S3_CONN_VAR = "AIRFLOW_CONN_DAGS_S3"
"""The AWS connection the S3 bundle reads through: no credential in it (the task role on ECS); locally the endpoint
of an S3-compatible server and its placeholder keys."""
DEFAULT_S3_PREFIX = "dags/"
LOCAL_S3_REGION = "us-east-1"
GIT_CONN_VAR = "AIRFLOW_CONN_DAGS_GIT"
"""The git credential as an Airflow connection (JSON: conn_type git, host the repository URL, password a token,
or extra.private_key an SSH key), read from the environment: on ECS a `secrets` entry from Secrets Manager."""

BUNDLE_CONFIG_VAR = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
BUNDLE_STORAGE_VAR = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"
CLEANUP_INTERVAL_VAR = "AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_INTERVAL"
CLEANUP_AGE_VAR = "AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_AGE_THRESHOLD"
CLEANUP_MIN_VERSIONS_VAR = "AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_MIN_VERSIONS"
SERIALIZED_DAG_UPDATE_INTERVAL_VAR = "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL"
PARSING_SORT_MODE_VAR = "AIRFLOW__DAG_PROCESSOR__FILE_PARSING_SORT_MODE"

FARGATE_BUNDLE_STORAGE = "/opt/airflow/dag_bundles"
"""Where checkouts live on Fargate: inside the container's writable layer, i.e. the task's ephemeral storage
(20 GiB by default, shared with the image's layers), under AIRFLOW_HOME which the official image's airflow user
owns. Gone when the task stops; while it runs, Airflow's stale-version cleanup keeps it bounded (below)."""

DEFAULT_REF = "main"
DEFAULT_REFRESH_INTERVAL = 30
REFRESH_INTERVAL_RANGE = range(5, 3601)
"""Seconds between the dag-processor's fetches. 5 s is the floor: each refresh is a `git fetch` of the remote."""

CLEANUP_INTERVAL = 600
"""Seconds between the worker's sweeps of unused versions (Airflow's default 1800)."""
CLEANUP_AGE_THRESHOLD = 3600
"""A version used by a task in the last hour stays (Airflow's default is 6 h: at a commit every few minutes that
is about a hundred checkouts on each worker). A version a running task holds is never removed: the sweep skips
any version whose lock it cannot take (BundleUsageTrackingManager._remove_stale_bundle)."""
CLEANUP_MIN_VERSIONS = 5
"""The most recent versions kept whatever their age (Airflow's default 10)."""
NO_CLEANUP = 0
"""The workers' cleanup interval with the `image` source: "0 or negative to disable" (Airflow's config.yml). At
Airflow's default 1800, `airflow celery worker` forks a process that sweeps every 30 minutes
(celery_command.py, `_run_stale_bundle_cleanup`), and the sweep skips every bundle that is not versioned
(`BundleUsageTrackingManager.remove_stale_bundle_versions`): with only the unversioned `dags-folder` it never
removes anything, and the process costs each worker 43 MiB of memory of its own (USS, 2026-12-07)."""

DAG_PROCESSOR_SERIALIZED_DAG_UPDATE_INTERVAL = 0
"""The dag-processor's `[core] min_serialized_dag_update_interval` with a versioned source (Airflow's default 30).
`SerializedDagModel.write_dag` (models/serialized_dag.py) silently drops a DAG's new serialized form when the
DAG's previous one was written less than this many seconds ago, and the file is then not parsed again for
`[dag_processor] min_file_process_interval` (30 s): a commit parsed within 30 s of the DAG's previous write (the
one before, or the first parse after start-up) reached new runs about 30 s late. At 0 the parse that sees the
commit writes it. The periodic parses cost nothing more: a file is parsed at most once per
min_file_process_interval, and write_dag writes only a changed DAG. The other roles read the option only as the
revalidation window of their serialized-DAG cache (models/dagbag.py, keyed by DAG version, so a new version is
never served stale) and keep Airflow's default."""
PARSING_SORT_MODE = "modified_time"
"""Airflow's default, set explicitly because prompt reparsing relies on it: `prepare_file_queue`
(dag_processing/manager.py) parses a file again before min_file_process_interval only in this mode, when its
mtime is newer than its last parse. Both our bundles stamp the files a new version changes, ahead of the refresh
(bundles/freshness.py): the git checkout alone gives them the time of the refresh, an archive's files carry 0."""

# A branch or tag name as git allows it (git check-ref-format, simplified): no spaces, no "..", no leading "-".
_REF = re.compile(r"(?!-)(?!.*\.\.)[A-Za-z0-9._/+-]{1,200}")
_SUBDIR = re.compile(r"(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._/ -]{1,200}")
_REPO_URL = re.compile(r"(https://|ssh://|git@|file://|/)\S+")


class DagSourceError(ValueError):
    """A DAG source setting that cannot work: which setting, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid; allowed: {allowed}")


@dataclass(frozen=True)
class DagSource:
    """One cluster's DAG source, validated (`dag_source()` builds it)."""

    kind: str = IMAGE
    repo_url: str | None = None
    """git: the repository, https://, ssh://, git@host:path, file:// or an absolute path (a bare repository)."""
    ref: str = DEFAULT_REF
    """git: the branch or tag new runs follow."""
    subdir: str | None = None
    """git: the folder inside the repository that holds the DAG files; the whole repository when None."""
    refresh_interval: int = DEFAULT_REFRESH_INTERVAL
    has_credential: bool = False
    """git: a connection (`GIT_CONN_VAR`) is given to the roles that fetch; without it the repository is public or
    local."""
    bucket: str | None = None
    """s3: the bucket `dags push` writes to and the bundle reads."""
    prefix: str = DEFAULT_S3_PREFIX
    """s3: the key prefix of the archives and the `current` pointer, ending in '/'."""
    endpoint_url: str | None = None
    """s3, locally: an S3-compatible server (moto's); None on AWS."""

    @property
    def versioned(self) -> bool:
        return self.kind in (GIT, S3)

    def bundle_config(self) -> list[dict[str, object]] | None:
        """`[dag_processor] dag_bundle_config_list`; None for `image` (Airflow's default dags-folder bundle)."""
        if self.kind == S3:
            kwargs = {"bucket_name": self.bucket, "prefix": self.prefix, "aws_conn_id": S3_CONN_ID,
                      "refresh_interval": self.refresh_interval}  # fmt: skip
            return [{"name": BUNDLE_NAME, "classpath": S3_BUNDLE_CLASS, "kwargs": kwargs}]
        if self.kind != GIT:
            return None
        kwargs: dict[str, object] = {
            "repo_url": self.repo_url,
            "tracking_ref": self.ref,
            "refresh_interval": self.refresh_interval,
        }
        if self.subdir:
            kwargs["subdir"] = self.subdir
        if self.has_credential:
            kwargs["git_conn_id"] = GIT_CONN_ID
        return [{"name": BUNDLE_NAME, "classpath": GIT_BUNDLE_CLASS, "kwargs": kwargs}]

    def environment(self, storage_path: str) -> dict[str, str]:
        """The plain variables every Airflow role gets: the bundle list, where checkouts live, how they are pruned.
        Nothing for `image`: Airflow's defaults are today's behaviour."""
        config = self.bundle_config()
        if config is None:
            return {}
        env = {
            BUNDLE_CONFIG_VAR: json.dumps(config, separators=(",", ":")),
            BUNDLE_STORAGE_VAR: storage_path,
            CLEANUP_INTERVAL_VAR: str(CLEANUP_INTERVAL),
            CLEANUP_AGE_VAR: str(CLEANUP_AGE_THRESHOLD),
            CLEANUP_MIN_VERSIONS_VAR: str(CLEANUP_MIN_VERSIONS),
        }
        if self.kind == S3:
            env[S3_CONN_VAR] = json.dumps(self._s3_connection(), separators=(",", ":"))
        return env

    def worker_environment(self) -> dict[str, str]:
        """A worker's own settings: with nothing versioned to sweep, no stale-version cleanup process (below)."""
        if self.versioned:
            return {}
        return {CLEANUP_INTERVAL_VAR: str(NO_CLEANUP)}

    def dag_processor_environment(self) -> dict[str, str]:
        """The dag-processor's own settings: a new version is parsed and written at once (see the constants)."""
        if not self.versioned:
            return {}
        return {
            SERIALIZED_DAG_UPDATE_INTERVAL_VAR: str(DAG_PROCESSOR_SERIALIZED_DAG_UPDATE_INTERVAL),
            PARSING_SORT_MODE_VAR: PARSING_SORT_MODE,
        }

    def _s3_connection(self) -> dict[str, object]:
        """No credential on AWS (boto3's chain finds the task role); locally the server's placeholder keys, which
        moto accepts and which open nothing else."""
        if self.endpoint_url is None:
            return {"conn_type": "aws"}
        return {"conn_type": "aws", "login": "testing", "password": "testing",
                "extra": {"endpoint_url": self.endpoint_url, "region_name": LOCAL_S3_REGION}}  # fmt: skip

    def describe(self) -> str:
        """One line for `plan`, the docs and `local up`."""
        if self.kind == IMAGE:
            return "image: the DAGs baked into the image (a DAG change is an image build and a rollout)"
        if self.kind == S3:
            where = f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
            return f"s3: {where}, refreshed every {self.refresh_interval} s, versioned per `dags push`"
        where = f"{self.repo_url} @ {self.ref}" + (f", folder {self.subdir}" if self.subdir else "")
        credential = f", credential: Airflow connection {GIT_CONN_ID}" if self.has_credential else ""
        return f"git: {where}, refreshed every {self.refresh_interval} s, versioned per commit{credential}"


FETCHING_ROLES = (DAG_PROCESSOR.name, WORKER.name)
"""The roles that clone or check out the repository, and so the only ones given the git credential."""


def fetches_dags(role_name: str) -> bool:
    return role_name in FETCHING_ROLES


def dag_source(
    kind: str = IMAGE,
    repo_url: str | None = None,
    ref: str | None = None,
    subdir: str | None = None,
    refresh_interval: int | None = None,
    has_credential: bool = False,
    keys: dict[str, str] | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    endpoint_url: str | None = None,
) -> DagSource:
    """Every setting checked; the first problem raised as DagSourceError under the name the caller's user wrote
    (`keys` maps "kind", "repo_url", "ref", "subdir", "refresh_interval", "credential" to those names)."""
    fields = ("kind", "repo_url", "ref", "subdir", "refresh_interval", "credential", "bucket", "prefix", "endpoint_url")
    names = {k: k for k in fields} | (keys or {})
    if kind not in DAG_SOURCES:
        raise DagSourceError(names["kind"], kind, " or ".join(DAG_SOURCES))
    if kind == IMAGE:
        # The ref and the interval have defaults of their own (a stack file always carries them): only settings
        # that would be silently ignored are refused.
        for name, value in (("repo_url", repo_url), ("subdir", subdir), ("bucket", bucket)):
            if value:
                raise DagSourceError(names[name], value, f"only with {names['kind']}='git' or 's3'; not for image")
        if has_credential:
            raise DagSourceError(names["credential"], "(set)", f"only with {names['kind']}={GIT!r}")
        return DagSource()
    interval = DEFAULT_REFRESH_INTERVAL if refresh_interval is None else refresh_interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval not in REFRESH_INTERVAL_RANGE:
        allowed = f"seconds from {REFRESH_INTERVAL_RANGE.start} to {REFRESH_INTERVAL_RANGE.stop - 1}"
        raise DagSourceError(names["refresh_interval"], interval, allowed)
    if kind == S3:
        return _s3_source(bucket, prefix, endpoint_url, interval, has_credential, repo_url, names)
    if not repo_url or not _REPO_URL.fullmatch(repo_url):
        raise DagSourceError(
            names["repo_url"], repo_url, "a repository: https://..., ssh://..., git@host:path, file://... or an "
            "absolute path to a local (bare) repository"
        )  # fmt: skip
    if "@" in repo_url.partition("://")[2].partition("/")[0] and repo_url.startswith("https://"):
        raise DagSourceError(
            names["repo_url"], "https://***@...", "a URL without a user or token in it: give the token as the git "
            "credential (an Airflow connection), which only the roles that fetch get"
        )  # fmt: skip
    ref = DEFAULT_REF if ref is None else ref
    if not _REF.fullmatch(ref):
        raise DagSourceError(names["ref"], ref, "a branch or tag name, e.g. main or release/2026-12")
    if subdir is not None and (not _SUBDIR.fullmatch(subdir) or subdir.endswith("/")):
        raise DagSourceError(names["subdir"], subdir, "a relative folder inside the repository, e.g. dags")
    return DagSource(GIT, repo_url, ref, subdir or None, interval, has_credential)


# S3's bucket naming rules (3-63 characters, lower-case letters, digits, dots and hyphens, a letter or digit at
# each end); a prefix of safe key characters ending in "/".
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)*")
_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?/?")


def _s3_source(
    bucket: str | None,
    prefix: str | None,
    endpoint_url: str | None,
    interval: int,
    has_credential: bool,
    repo_url: str | None,
    names: dict[str, str],
) -> DagSource:
    if repo_url or has_credential:
        key = names["repo_url"] if repo_url else names["credential"]
        raise DagSourceError(key, repo_url or "(set)", f"only with {names['kind']}='git'")
    if bucket is None or not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise DagSourceError(names["bucket"], bucket, "an S3 bucket name: 3-63 lower-case letters, digits, . and -")
    prefix = DEFAULT_S3_PREFIX if prefix is None else prefix
    if not _PREFIX.fullmatch(prefix):
        raise DagSourceError(names["prefix"], prefix, "a key prefix ending in '/', e.g. dags/ (or '' for the root)")
    if endpoint_url is not None and not _ENDPOINT.fullmatch(endpoint_url):
        raise DagSourceError(names["endpoint_url"], endpoint_url, "an http(s)://host:port URL of an S3 server")
    return DagSource(S3, refresh_interval=interval, bucket=bucket, prefix=prefix, endpoint_url=endpoint_url)


def max_checkouts(commits_per_hour: float, versions_in_use: int = 0) -> int:
    """The most checkouts a worker holds with Airflow's stale-version cleanup at these settings: the newest
    CLEANUP_MIN_VERSIONS, or every version used within the age threshold plus one sweep interval (the sweep runs
    every CLEANUP_INTERVAL), whichever is more, plus versions that running tasks hold (never removed)."""
    recent = math.ceil(commits_per_hour * (CLEANUP_AGE_THRESHOLD + CLEANUP_INTERVAL) / 3600)
    return max(CLEANUP_MIN_VERSIONS, recent) + versions_in_use
