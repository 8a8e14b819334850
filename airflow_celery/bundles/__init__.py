"""DAG bundles of our own: the versioned S3 bundle and `dags push`."""
