"""`airflow-celery local info`: where to log in, for whoever lost the first screen of `local up`."""

from __future__ import annotations

from pathlib import Path

from airflow_celery.cluster import SecretName
from airflow_celery.local.options import cluster_settings
from airflow_celery.local.state import ADMIN_USERNAME, StatePaths, load_options


def access_lines(state_dir: Path, show_passwords: bool = False, secrets: dict[str, str] | None = None) -> list[str]:
    """The UI and Flower URLs, the user names, and where the passwords are kept (the values only on request)."""
    paths = StatePaths(state_dir)
    options, node_host = load_options(paths)
    settings = cluster_settings(options, paths.airflow_home, node_host)
    ui = f"http://127.0.0.1:{options.ports['api-server.http']}/"
    flower = f"http://127.0.0.1:{options.ports['flower.http']}{settings.flower_url_prefix}/"

    def password(name: SecretName) -> str:
        if show_passwords and secrets is not None:
            return secrets[name.value]
        return f"key {name.value!r} of {paths.secrets} (or `local info --show-passwords`)"

    return [
        f"UI:       {ui}",
        f"          user {ADMIN_USERNAME}, password: {password(SecretName.ADMIN_PASSWORD)}",
        f"Flower:   {flower}",
        f"          user {ADMIN_USERNAME} (basic auth), password: {password(SecretName.FLOWER_PASSWORD)}",
        f"Logs:     {paths.logs}/<program>.log; task logs: `airflow-celery local logs DAG_ID`",
        "Airflow:  `airflow-celery local airflow ARGS...` runs Airflow's CLI against this cluster",
        f"Dags:     {options.dags_dir}",
    ]
