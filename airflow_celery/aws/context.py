"""What every AWS module needs to create a child of the component: names, parent and tags."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from airflow_celery.aws.args import ResolvedArgs


@dataclass(frozen=True)
class BuildContext:
    """The component being built and its validated config; children are named from `config.name`."""

    parent: pulumi.Resource
    config: ResolvedArgs

    @property
    def name(self) -> str:
        return self.config.name

    def child_name(self, *parts: str) -> str:
        """`<component>-<part>-<part>`: a resource name that is plain text, never an Output."""
        return "-".join((self.name, *parts))

    def opts(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, depends_on=depends_on)

    def tags(self, *name_parts: str) -> dict[str, str]:
        """The configured tags, plus a Name tag when `name_parts` are given (shown in the EC2 console)."""
        if not name_parts:
            return dict(self.config.tags)
        return {**self.config.tags, "Name": self.child_name(*name_parts)}
