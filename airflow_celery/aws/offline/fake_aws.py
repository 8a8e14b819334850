"""A fake AWS account for the recording mocks: the outputs AWS (and the providers) would give each resource type
the component registers, and the answers of the provider functions it invokes. Deterministic: the same name gives
the same ids, passwords and digests in every run, so two builds compare equal."""

from __future__ import annotations

import base64
import hashlib
import string
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_celery.aws.offline.recording import RecordingMocks

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
ECR_PASSWORD = "mock-ecr-registry-password"
GIVEN_VPC_ID = "vpc-0123456789abcdef0"
# A given VPC answers getVpc with these ranges (a primary and a secondary block).
GIVEN_VPC_CIDRS = ("10.20.0.0/16", "100.64.0.0/16")
OFFERINGS_INVOKE = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
_ALPHANUMERIC = string.ascii_letters + string.digits


def _seed(name: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{name}".encode()).digest()


def _alphanumeric(name: str, length: int) -> str:
    """A deterministic alphanumeric string, different per resource name."""
    out, counter = [], 0
    while len(out) < length:
        for byte in _seed(name, f"password-{counter}"):
            out.append(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)])
        counter += 1
    return "".join(out[:length])


def _random_bytes(name: str, length: int) -> bytes:
    raw, counter = b"", 0
    while len(raw) < length:
        raw += _seed(name, f"bytes-{counter}")
        counter += 1
    return raw[:length]


def arn(type_token: str, name: str, region: str = REGION) -> str:
    """arn:aws:<service>:<region>:<account>:<resource>/<name> for an `aws:<service>/...` token."""
    service = type_token.split(":")[1].split("/")[0]
    resource = type_token.rsplit(":", 1)[-1].lower()
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}/{name}"


# --- realistic outputs per resource type ---------------------------------------------------------


def _random_password(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    value = _alphanumeric(name, int(inputs.get("length", 16)))
    mocks.remember_secret(name, value)
    return {"result": value, "bcryptHash": f"$2a$10${value}"}


def _random_id_outputs(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    raw = _random_bytes(name, int(inputs.get("byteLength", 4)))
    return {"hex": raw.hex(), "dec": str(int.from_bytes(raw, "big")), "b64Url": base64.urlsafe_b64encode(raw).decode()}


def _random_bytes_outputs(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    raw = _random_bytes(name, int(inputs.get("length", 32)))
    encodings = {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
    for value in (*encodings.values(), base64.urlsafe_b64encode(raw).decode()):
        mocks.remember_secret(name, value)
    return encodings


def _load_balancer(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": inputs.get("name") or name,
        "dnsName": f"{name}-1234567890.{mocks.region}.elb.amazonaws.com",
        "zoneId": "Z35SXDOTRQ7X7K",
        "arnSuffix": f"app/{inputs.get('name') or name}/50dc6c495c0c9188",
    }


def _rds_instance(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    address = f"{name}.abcdefghijkl.{mocks.region}.rds.amazonaws.com"
    # The provider names the instance (identifier) when the program does not: the resource name plus a suffix.
    return {"address": address, "endpoint": f"{address}:5432", "port": 5432, "identifier": f"{name}-0a1b2c3d"}


def _ecr_repository(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{mocks.region}.amazonaws.com/{inputs.get('name', name)}",
        "registryId": ACCOUNT_ID,
    }


def _docker_image(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    image_name = str(inputs.get("imageName", name))
    repository = image_name.rsplit(":", 1)[0] if ":" in image_name.rsplit("/", 1)[-1] else image_name
    digest = hashlib.sha256(image_name.encode()).hexdigest()
    return {"repoDigest": f"{repository}@sha256:{digest}", "baseImageName": image_name}


def _replication_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # AWS names the member clusters `<replication group id>-001`, `-002`, ... (one per num_cache_clusters).
    members = [f"{name}-{index:03d}" for index in range(1, int(inputs.get("numCacheClusters", 1)) + 1)]
    return {"primaryEndpointAddress": f"master.{name}.abcdef.use1.cache.amazonaws.com", "port": 6379,
            "memberClusters": members}  # fmt: skip


def _metric_alarm(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # Auto-named like every physical name the program leaves to the provider: the resource name plus a suffix.
    named = inputs.get("name") or f"{name}-0a1b2c3"
    return {"name": named, "arn": f"arn:aws:cloudwatch:{mocks.region}:{ACCOUNT_ID}:alarm:{named}"}


def _kms_key(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # KMS names a key by a UUID it picks; the ARN ends in key/<that id>.
    key_id = str(uuid.UUID(bytes=_seed(name, "kms-key")[:16], version=4))
    return {"keyId": key_id, "arn": f"arn:aws:kms:{mocks.region}:{ACCOUNT_ID}:key/{key_id}"}


def _log_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # The provider's LogGroup.arn has no trailing ":*" (unlike DescribeLogGroups' arn).
    named = inputs.get("name") or name
    return {"name": named, "arn": f"arn:aws:logs:{mocks.region}:{ACCOUNT_ID}:log-group:{named}"}


def _target_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    named = inputs.get("name") or f"{inputs.get('namePrefix', '')}{name[-8:]}"
    return {"name": named, "arnSuffix": f"targetgroup/{named}/73e2d6bc24d8a067"}


def _named(key: str = "name") -> Any:
    def build(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {key: inputs.get(key) or name}

    return build


def security_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"__id": f"sg-{hashlib.sha256(name.encode()).hexdigest()[:17]}"}


def _dns_namespace(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"hostedZone": "Z0123456789ABCDEFGHIJ", "__id": f"ns-{hashlib.sha256(name.encode()).hexdigest()[:16]}"}


def _task_definition(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"revision": 1, "arnWithoutRevision": arn("aws:ecs/taskDefinition:TaskDefinition", name, mocks.region)}


def _s3_bucket(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket") or f"{name}-0123456789"
    return {"bucket": bucket, "__id": bucket, "arn": f"arn:aws:s3:::{bucket}"}


def _secret_version(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets Manager gives every new value a new version id; here it follows the value (and a test's salt)."""
    value = str(inputs.get("secretString", ""))
    salt = mocks.version_salts.get(name, "")
    return {"versionId": hashlib.sha256(f"{salt}{value}".encode()).hexdigest()[:32], "versionStages": ["AWSCURRENT"]}


OUTPUT_BUILDERS = {
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomBytes:RandomBytes": _random_bytes_outputs,
    "random:index/randomId:RandomId": _random_id_outputs,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:ecr/repository:Repository": _ecr_repository,
    "docker:index/image:Image": _docker_image,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:ec2/securityGroup:SecurityGroup": security_group,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _dns_namespace,
    "aws:ecs/cluster:Cluster": _named(),
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/service:Service": _named(),
    "aws:iam/role:Role": _named(),
    "aws:lambda/function:Function": _named(),
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:secretsmanager/secret:Secret": _named(),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:kms/key:Key": _kms_key,
    "aws:rds/subnetGroup:SubnetGroup": _named(),
    "aws:elasticache/subnetGroup:SubnetGroup": _named(),
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
}


def _zone_names(region: str) -> list[str]:
    return list(AVAILABILITY_ZONES) if region == REGION else [f"{region}{zone}" for zone in "abc"]


def zone_ids(region: str) -> list[str]:
    prefix = "use1-" if region == REGION else f"{region}-"
    return [f"{prefix}az{i + 1}" for i in range(len(_zone_names(region)))]


def invoke_answers(region: str) -> dict[str, dict[str, Any]]:
    """The answers of the provider functions the component invokes, for `region`."""
    return {
        "aws:index/getAvailabilityZones:getAvailabilityZones": {
            "id": region,
            "names": _zone_names(region),
            "zoneIds": zone_ids(region),
            "groupNames": [region],
        },
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            "id": region,
            "authorizationToken": base64.b64encode(f"AWS:{ECR_PASSWORD}".encode()).decode(),
            "userName": "AWS",
            "password": ECR_PASSWORD,
            "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
            "expiresAt": "2030-01-01T00:00:00Z",
        },
        "aws:ec2/getVpc:getVpc": {
            "id": GIVEN_VPC_ID,
            "cidrBlock": GIVEN_VPC_CIDRS[0],
            "cidrBlockAssociations": [
                {"associationId": f"vpc-cidr-assoc-{i}", "cidrBlock": cidr, "state": "associated"}
                for i, cidr in enumerate(GIVEN_VPC_CIDRS)
            ],
        },
        "aws:index/getRegion:getRegion": {
            "id": region,
            "name": region,
            "region": region,
            "description": "US East (N. Virginia)" if region == REGION else region,
            "endpoint": f"ec2.{region}.amazonaws.com",
        },
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "id": ACCOUNT_ID,
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test",
            "userId": "AIDATEST",
        },
        "aws:index/getPartition:getPartition": {
            "id": "aws",
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "reverseDnsSuffix": "com.amazonaws",
        },
    }


def instance_type_offerings(
    region: str, request: Mapping[str, Any], zones_without: Mapping[str, set[str]]
) -> dict[str, Any]:
    """DescribeInstanceTypeOfferings by zone ID: each asked type in every zone but those in `zones_without`."""
    asked = [value for f in request.get("filters", []) if f["name"] == "instance-type" for value in f["values"]]
    pairs = [(t, zone) for t in asked for zone in zone_ids(region) if zone not in zones_without.get(t, set())]
    return {
        "id": region,
        "instanceTypes": [t for t, _ in pairs],
        "locations": [zone for _, zone in pairs],
        "locationTypes": ["availability-zone-id"] * len(pairs),
    }
