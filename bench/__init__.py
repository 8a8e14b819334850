"""The benchmark scripts (measurements, not tests): run each from the repository root as
`python -m bench.<script>`. `local_cluster` is what they share; `dags/` holds the DAG files they run."""
