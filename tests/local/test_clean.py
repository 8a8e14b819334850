"""`airflow-celery local clean` on a real cluster of the shared one's shape (the `faults` group's, before its
faults): rows older than the retention go, recent ones stay, in Airflow's own tables and in Celery's result tables."""

from __future__ import annotations

import pytest

from tests.local.cluster_support import Cluster

pytestmark = pytest.mark.integration

MARK = "housekeeping-test"
# (table, insert of one row `days` old, the column that tells our rows apart)
ROWS = {
    "log": ("INSERT INTO log (dttm, event, owner) VALUES (now() - make_interval(days => %(days)s), %(tag)s, 'test')",
            "event"),
    "celery_taskmeta": ("INSERT INTO celery_taskmeta (id, task_id, status, date_done) VALUES "
                        "(nextval('task_id_sequence'), %(tag)s, 'SUCCESS', now() - make_interval(days => %(days)s))",
                        "task_id"),
    "celery_tasksetmeta": ("INSERT INTO celery_tasksetmeta (id, taskset_id, date_done) VALUES "
                           "(nextval('taskset_id_sequence'), %(tag)s, now() - make_interval(days => %(days)s))",
                           "taskset_id"),
}  # fmt: skip


def _connect(cluster: Cluster):
    import psycopg2

    url = cluster.secrets["database-url"].replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(url, connect_timeout=10)
    connection.autocommit = True
    return connection


def _ours(cursor, table: str, column: str) -> set[str]:
    cursor.execute(f"SELECT {column} FROM {table} WHERE {column} LIKE %s", (f"{MARK}%",))
    return {row[0] for row in cursor.fetchall()}


def test_local_clean_drops_rows_older_than_the_retention_and_keeps_recent_ones(cluster):
    connection = _connect(cluster)
    try:
        with connection.cursor() as cursor:
            for insert, _ in ROWS.values():
                for days in (45, 31, 29, 1):
                    cursor.execute(insert, {"days": days, "tag": f"{MARK}-{days}d"})
        result = cluster.cli("local", "clean", "--retention-days", "30", timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        with connection.cursor() as cursor:
            for table, (_, column) in ROWS.items():
                assert _ours(cursor, table, column) == {f"{MARK}-29d", f"{MARK}-1d"}, table
            # --skip-archive: no `_airflow_deleted__*` copies keep the database as large as before.
            cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_airflow\\_deleted\\_\\_%%'")
            assert cursor.fetchone()[0] == 0
    finally:
        with connection.cursor() as cursor:
            for table, (_, column) in ROWS.items():
                cursor.execute(f"DELETE FROM {table} WHERE {column} LIKE %s", (f"{MARK}%",))
        connection.close()


def test_local_clean_refuses_a_retention_out_of_range(cluster):
    result = cluster.cli("local", "clean", "--retention-days", "0", timeout=60)
    assert result.returncode == 1 and "--retention-days 0" in result.stderr
