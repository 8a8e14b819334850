"""Local mode: the same cluster as supervised processes on one machine, without Docker or AWS."""
