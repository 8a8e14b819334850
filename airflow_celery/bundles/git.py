"""Airflow's GitDagBundle, whose refresh also stamps the files a new commit changed ahead (bundles/freshness.py).

Everything else is the provider's: the clone, the fetch, the checkout of a run's commit on a worker. Only the
dag-processor refreshes the tracking checkout; a worker's bundle is at a fixed version and never refreshed. Files
inside submodules are not stamped (the diff names only the submodule's path).
"""

from __future__ import annotations

import logging
from pathlib import Path

from airflow.providers.git.bundles.git import GitDagBundle
from git.exc import GitCommandError

from airflow_celery.bundles.freshness import stamp_ahead

log = logging.getLogger(__name__)


class StampingGitDagBundle(GitDagBundle):
    """After a refresh that moved the checkout to a new commit, the files that commit changed get an mtime
    STALE_PARSE_MARGIN ahead: the checkout alone gives them the time of the refresh, which a parse of the old file
    still running then ends after."""

    def refresh(self) -> None:
        if self.version:
            super().refresh()  # the provider's refusal: a bundle at a fixed version is never refreshed
            return
        with self.lock():
            before = self._head()
            super().refresh()
            after = self._head()
            if after != before:
                self._stamp(before, after)

    def _head(self) -> str:
        with self.repo as repo:
            return repo.head.commit.hexsha

    def _changed_files(self, before: str, after: str) -> list[Path]:
        """The files of the checkout that the second commit added or changed, symlinks left out (a stamp would
        go through them)."""
        with self.repo as repo:
            names = repo.git.diff("-z", "--name-only", "--no-renames", "--diff-filter=d", before, after)
        paths = (self.repo_path / name for name in names.split("\0") if name)
        return [path for path in paths if path.is_file() and not path.is_symlink()]

    def _stamp(self, before: str, after: str) -> None:
        """Stamp, then refresh git's index: its stat cache would otherwise see the stamped files as modified, and
        the provider's next refresh (`reset --hard`, even without a new commit) would rewrite them and undo it."""
        try:
            stamp_ahead(self._changed_files(before, after))
            with self.repo as repo:
                repo.git.update_index("-q", "--refresh")
        except (OSError, GitCommandError) as error:  # the checkout stands; only the prompt reparse is lost
            log.warning("could not stamp the files of %s: %s", after, error)
