"""The image every Airflow role runs: an ECR repository, and our image built from image/ and pushed there."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from airflow_celery.aws import build_context
from airflow_celery.aws.context import BuildContext

KEEP_IMAGES = 20
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
"""The image platform of each cpu_architecture: the task definitions' runtime platform (LINUX / that CPU)."""
IMAGE_TAG = "latest"


def lifecycle_policy(keep: int = KEEP_IMAGES) -> str:
    """Expire everything but the newest `keep` images."""
    rule = {
        "rulePriority": 1,
        "description": f"keep the last {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }
    return json.dumps({"rules": [rule]})


def repository(ctx: BuildContext) -> aws.ecr.Repository:
    repo = aws.ecr.Repository(
        ctx.child_name("images"),
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
        image_tag_mutability="MUTABLE",
        force_delete=ctx.config.ecr_force_delete,
        tags=ctx.tags("images"),
        opts=ctx.opts(),
    )
    aws.ecr.LifecyclePolicy(
        ctx.child_name("images-lifecycle"), repository=repo.name, policy=lifecycle_policy(), opts=ctx.opts()
    )
    return repo


def image_reference(ctx: BuildContext, repo: aws.ecr.Repository) -> pulumi.Output[str]:
    """The image by digest (name@sha256:...): the given one, or ours built and pushed to `repo`.

    Every task definition uses this one reference, so a DAG change rolls every role to the same code.
    """
    if ctx.config.image:
        return pulumi.Output.from_input(ctx.config.image)
    token = aws.ecr.get_authorization_token_output(
        registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(parent=ctx.parent)
    )
    found = build_context.sources(ctx.config.build_context)
    staged = build_context.stage(found)
    dockerfile = staged / ctx.config.dockerfile  # under image/ (resolve_args checks it)
    image = docker.Image(
        ctx.child_name("image"),
        image_name=repo.repository_url.apply(lambda url: f"{url}:{IMAGE_TAG}"),
        build=docker.DockerBuildArgs(
            context=str(staged), dockerfile=str(dockerfile), platform=PLATFORMS[ctx.config.cpu_architecture]
        ),
        registry=docker.RegistryArgs(
            server=repo.repository_url,
            username=token.user_name,
            password=pulumi.Output.secret(token.password),
        ),
        opts=ctx.opts(),
    )
    return image.repo_digest
