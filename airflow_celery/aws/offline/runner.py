"""Running the component, or a whole Pulumi program, offline against the recording mocks.

`build_component` builds one AirflowCeleryCluster, `run_program` runs a stack's `__main__.py` with stack config;
both return the mocks once every output has resolved.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import runpy
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi

from airflow_celery.aws.offline import fake_aws
from airflow_celery.aws.offline.pulumi_internals import (
    RecordingMonitor,
    reset_root_stack,
    root_stack_outputs,
    skip_stack_traces,
)
from airflow_celery.aws.offline.recording import RecordingMocks

PROJECT = "airflow-celery"


class _WarningRecorder(logging.Handler):
    def __init__(self, mocks: RecordingMocks):
        super().__init__(level=logging.WARNING)
        self.mocks = mocks

    def emit(self, record: logging.LogRecord) -> None:
        self.mocks.warnings.append(record.getMessage())


def _ensure_event_loop() -> None:
    """Pulumi's mock runner uses the thread's current event loop; code that ran before (asyncio.run) may have
    closed or unset it."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def install_mocks(mocks: RecordingMocks, stack: str, config: Mapping[str, Any] | None) -> None:
    """Make `mocks` the engine of the Pulumi programs run next in this thread, with a fresh root stack."""
    _ensure_event_loop()
    reset_root_stack()
    skip_stack_traces()
    # One logger per run, its warnings kept on the mocks (a program's pulumi.log.warn reaches it).
    logger = logging.getLogger(f"airflow_celery.offline.pulumi.{id(mocks)}")
    logger.propagate = False
    logger.addHandler(_WarningRecorder(mocks))
    pulumi.runtime.set_all_config(config_map(config or {}), secret_keys=[])
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=RecordingMonitor(mocks)
    )


def config_map(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the engine passes it: `project:key` -> string (JSON for structured values)."""
    result = {}
    for key, value in config.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        result[full_key] = value if isinstance(value, str) else json.dumps(value)
    return result


def _capture_stack_outputs(mocks: RecordingMocks) -> pulumi.Output[Any]:
    """Resolve the program's exports into `mocks.stack_outputs` and note which are secret."""
    exports = {name: pulumi.Output.from_input(value) for name, value in root_stack_outputs().items()}

    async def capture() -> None:
        for name, output in exports.items():
            if await output.is_secret():
                mocks.secret_stack_outputs.add(name)
            mocks.stack_outputs[name] = await output.future()

    return pulumi.Output.from_input(capture())


def build_component(
    name: str,
    args: Mapping[str, Any] | None = None,
    stack: str = "dev",
    rotated: Iterable[str] = (),
    region: str = fake_aws.REGION,
    zones_without: Mapping[str, Iterable[str]] | None = None,
) -> RecordingMocks:
    """Build one AirflowCeleryCluster under mocks; return the mocks once every output has resolved.

    `rotated` names SecretVersion resources whose value is new in this build (they get a new version id);
    `zones_without` maps an EC2 instance type to the zone IDs that do not offer it.
    """
    from airflow_celery.aws.component import AirflowCeleryCluster

    mocks = RecordingMocks(region)
    mocks.zones_without = {t: set(zones) for t, zones in (zones_without or {}).items()}
    mocks.version_salts = {version: "rotated" for version in rotated}
    install_mocks(mocks, stack, None)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        component = AirflowCeleryCluster(name, dict(args) if args is not None else None)
        return pulumi.Output.all(*component.outputs.values())

    program()
    return mocks


def run_program(path_to_main_py: str | os.PathLike[str], stack: str, config: Mapping[str, Any]) -> RecordingMocks:
    """Run a Pulumi program file (a stack's __main__.py) under mocks with this stack config.

    Runs in the program's directory, as `pulumi up` does. Config keys without a namespace get
    the project's (`airflow-celery:`); non-string values are passed as JSON.
    """
    program_path = Path(path_to_main_py).resolve()
    mocks = RecordingMocks()
    install_mocks(mocks, stack, config)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        previous_cwd = os.getcwd()
        sys.path.insert(0, str(program_path.parent))
        try:
            os.chdir(program_path.parent)
            runpy.run_path(str(program_path), run_name="__main__")
        finally:
            os.chdir(previous_cwd)
            sys.path.remove(str(program_path.parent))
        return _capture_stack_outputs(mocks)

    program()
    return mocks
