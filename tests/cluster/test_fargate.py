import pytest

from airflow_celery.cluster.fargate import describe_allowed, is_fargate_size


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (2048, 16384), (4096, 30720), (8192, 61440), (16384, 122880)],
)
def test_accepted_pairs(cpu, memory):
    assert is_fargate_size(cpu, memory)


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(256, 4096), (512, 512), (1024, 9216), (4096, 31744), (8192, 18432), (16384, 36864), (300, 1024), (1024, 2500)],
)
def test_rejected_pairs(cpu, memory):
    assert not is_fargate_size(cpu, memory)


def test_describe_allowed_explains():
    assert describe_allowed(256) == "with cpu 256, memory must be one of 512, 1024, 2048 MiB"
    assert describe_allowed(8192) == "with cpu 8192, memory must be 16384-61440 MiB in steps of 4096"
    assert describe_allowed(300).startswith("cpu must be one of 256, 512")
