"""Airflow's GitDagBundle, whose refresh also stamps the files a new commit changed ahead (bundles/freshness.py).

Everything else is the provider's: the clone, the fetch, the checkout of a run's commit on a worker. Only the
dag-processor refreshes the tracking checkout; a worker's bundle is at a fixed version and never refreshed.
"""

from __future__ import annotations

from pathlib import Path

from airflow.providers.git.bundles.git import GitDagBundle

from airflow_celery.bundles.freshness import stamp_ahead


class StampingGitDagBundle(GitDagBundle):
    """After a refresh that moved the checkout to a new commit, the files that commit changed get an mtime
    STALE_PARSE_MARGIN ahead: the checkout alone gives them the time of the refresh, which a parse of the old file
    still running then ends after."""

    def refresh(self) -> None:
        before = self._head()
        super().refresh()
        after = self._head()
        if after != before:
            stamp_ahead(self._changed_files(before, after))

    def _head(self) -> str:
        with self.repo as repo:
            return repo.head.commit.hexsha

    def _changed_files(self, before: str, after: str) -> list[Path]:
        """The files of the checkout that differ between the two commits (added, modified or renamed into)."""
        with self.repo as repo:
            names = repo.git.diff("--name-only", "--diff-filter=AMRT", before, after).splitlines()
        return [path for path in (self.repo_path / name for name in names) if path.is_file()]
