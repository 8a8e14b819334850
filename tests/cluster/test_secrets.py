from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from airflow_celery.cluster.secrets import (
    COMPOSED,
    GENERATED,
    BrokerEndpoint,
    DatabaseEndpoint,
    SecretName,
    compose_secrets,
    generate_secrets,
)


def test_generate_secrets_makes_every_generated_secret_fresh():
    first, second = generate_secrets(), generate_secrets()
    assert set(first) == set(GENERATED)
    assert all(first[name] != second[name] for name in GENERATED)
    Fernet(first[SecretName.FERNET_KEY].encode())  # raises if not a valid Fernet key


def test_passwords_are_alphanumeric_so_rds_and_elasticache_accept_them():
    values = generate_secrets()
    for name in (SecretName.DATABASE_PASSWORD, SecretName.REDIS_PASSWORD, SecretName.ADMIN_PASSWORD):
        assert values[name].isalnum() and len(values[name]) >= 16


def test_compose_builds_the_connection_urls():
    generated = {
        SecretName.DATABASE_PASSWORD: "dbpass",
        SecretName.REDIS_PASSWORD: "redispass",
        SecretName.FLOWER_PASSWORD: "fl",
    }
    urls = compose_secrets(generated, DatabaseEndpoint("db.internal", 5432), BrokerEndpoint("redis.internal"), "admin")
    assert set(urls) == set(COMPOSED)
    assert urls[SecretName.DATABASE_URL] == "postgresql+psycopg2://airflow:dbpass@db.internal:5432/airflow"
    assert urls[SecretName.RESULT_BACKEND_URL] == "db+postgresql://airflow:dbpass@db.internal:5432/airflow"
    assert urls[SecretName.BROKER_URL] == "redis://:redispass@redis.internal:6379/0"
    assert urls[SecretName.FLOWER_BASIC_AUTH] == "admin:fl"


def test_tls_broker_and_ssl_database():
    generated = {
        SecretName.DATABASE_PASSWORD: "p@ss/word",
        SecretName.REDIS_PASSWORD: "r",
        SecretName.FLOWER_PASSWORD: "f",
    }
    urls = compose_secrets(
        generated, DatabaseEndpoint("rds", 5432, sslmode="require"), BrokerEndpoint("cache", tls=True), "admin"
    )
    assert urls[SecretName.BROKER_URL] == "rediss://:r@cache:6379/0?ssl_cert_reqs=CERT_REQUIRED"
    db = urlsplit(urls[SecretName.DATABASE_URL])
    assert (db.hostname, db.port, db.query) == ("rds", 5432, "sslmode=require")
    assert db.password == "p%40ss%2Fword"  # quoted, so the URL still parses
