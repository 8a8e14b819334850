"""`python -m airflow_celery.local.secret_exec SECRETS_JSON VAR=secret-name ... -- COMMAND...`

Puts secret values into the environment, then execs COMMAND. This is how local mode keeps secrets out of
supervisord.conf and out of every command line, the way ECS `secrets` keep them out of a task definition:
the configuration names which variable gets which secret, the value is read from the 0600 secrets file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence


def parse(argv: Sequence[str]) -> tuple[str, dict[str, str], list[str]]:
    if "--" not in argv or len(argv) < 3:
        raise SystemExit("usage: python -m airflow_celery.local.secret_exec SECRETS_JSON VAR=NAME... -- COMMAND...")
    split = list(argv).index("--")
    secrets_file, mapping, command = argv[0], argv[1:split], list(argv[split + 1 :])
    variables = {}
    for item in mapping:
        variable, sep, name = item.partition("=")
        if not sep:
            raise SystemExit(f"secret_exec: {item!r} is not VAR=secret-name")
        variables[variable] = name
    if not command:
        raise SystemExit("secret_exec: no command after --")
    return secrets_file, variables, command


def main(argv: Sequence[str] | None = None) -> None:
    secrets_file, variables, command = parse(sys.argv[1:] if argv is None else argv)
    with open(secrets_file) as handle:
        values = json.load(handle)
    missing = sorted(name for name in variables.values() if name not in values)
    if missing:
        raise SystemExit(f"secret_exec: {secrets_file} has no value for {', '.join(missing)}")
    env = {**os.environ, **{variable: values[name] for variable, name in variables.items()}}
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
