"""The AWS renderer: AirflowCeleryCluster and one module per AWS concern."""
