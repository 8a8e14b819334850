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


def test_readme_config_reference_is_current():
    readme = docs.README_PATH.read_text()
    assert docs.readme_with_config_reference(readme) == readme, "run: python -m airflow_celery.docs"


def test_config_reference_lists_every_key_with_its_default():
    table = docs.config_reference()
    assert "| `workerCount` | integer | `1` |" in table
    assert "| `allowedCidrs` | array | - |" in table  # unset: the created VPC's own range (internal)
    assert "| `certificateArn` | string | - |" in table


def test_architecture_diagram_has_every_role_and_edge_with_its_port():
    diagram = "\n".join(docs.architecture_diagram())
    assert diagram.startswith("```mermaid\nflowchart LR") and diagram.endswith("```")
    for role in ROLES:
        assert f"{role.name.replace('-', '_')}[" in diagram
    for edge in EDGES:
        source, target = edge.source.replace("-", "_"), edge.target.replace("-", "_")
        assert f'    {source} -->|"{edge.port_number} {edge.port}"| {target}' in diagram
    assert "```mermaid" in docs.render()


def test_architecture_diagram_puts_only_the_load_balancer_in_public_subnets():
    lines = docs.architecture_diagram()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("subgraph public"))
    end = lines.index("    end", start)
    assert [line.strip().split("[")[0] for line in lines[start + 1 : end]] == ["load_balancer"]
    internet_edges = [line for line in lines if line.strip().startswith("internet -->")]
    assert internet_edges and all(line.endswith("| load_balancer") for line in internet_edges)
