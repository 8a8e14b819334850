from airflow_celery import docs
from airflow_celery.cluster import EDGES, ROLES


def test_committed_cluster_doc_is_current():
    assert docs.DOC_PATH.read_text() == docs.render(), "run: python -m airflow_celery.docs"


def test_doc_lists_every_role_and_edge():
    text = docs.render()
    for role in ROLES:
        assert f"| {role.name} | {role.kind} |" in text
    for edge in EDGES:
        assert f"| {edge.source} | {edge.target} | {edge.port_number} " in text


def test_doc_shows_secret_names_not_values():
    text = docs.render()
    assert "| `AIRFLOW__CORE__FERNET_KEY` | secret `fernet-key` |" in text
