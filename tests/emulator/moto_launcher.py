#!/usr/bin/env python3
"""Start a moto server whose CloudFormation engine can run charts/stack.yaml.

moto 5.2.5 serves Secrets Manager, Cloud Map, AWS Backup, CloudWatch, S3 bucket
policies, EC2 security-group egress ... as plain APIs, but its CloudFormation engine
has no model for these resource types: a stack using them silently skips them (their
`Ref` outputs vanish) or fails with HTTP 500 on `Fn::GetAtt`.  This launcher adds the
missing CloudFormation models through moto's own extension point,
`moto.core.common_models.CloudFormationModel`: moto's template parser
(moto/cloudformation/parsing.py) maps a resource type to the direct subclass of
CloudFormationModel whose `cloudformation_type()` returns it.  Every model below
delegates to moto's service backend, so what a stack creates is visible through the
ordinary APIs (ListSecrets, ListServices, ListBackupVaults, DescribeAlarms, ...).

moto's model metaclass files each model under the service named by the class's
`__module__` ("moto.<service>.<...>"), so each class sets `__module__` explicitly.

A few existing moto models lack the `Ref`/`Fn::GetAtt` values real CloudFormation
returns (EFS access point, ELBv2 target group); those are completed in place. One API
moto models but does not serve, UpdateTerminationProtection, is added over moto's own
stack model; executing a change set updates the stack's outputs, parameters and tags
as moto's own UpdateStack path does; IAM policies are evaluated as AWS does
(iam_like_aws.py: resources, conditions, implied permissions); Backup's ListTags finds
the ARN without boto3's trailing slash; a deleted backup plan's name can be used again, as in AWS Backup; and a
retried CreateChangeSet, ExecuteChangeSet or CreateBackupPlan is idempotent through its
client token, as in AWS, instead of being done twice.

Where moto is more forgiving than AWS in ways the product depends on, the launcher
behaves like AWS instead: a service CloudFormation creates without DesiredCount starts
at 1 task (AWS's default); a task definition keeps every property through a stack
update (moto dropped roles, cpu and the camelCase of its containers); a resource whose
Ref points at a replaced resource, or at a condition that changed, is updated too (the
ECS service follows its new task definition revision); and, when BCO_ECS_TASKS is set,
ECS tasks really start (ecs_tasks.py): the real LiteLLM process from the deployed task
definition, at the moment a task is due.

Usage: python tests/emulator/moto_launcher.py [--host 127.0.0.1] [--port 5000]
Prints exactly one line "moto listening on http://HOST:PORT" once the server accepts
connections, then serves until SIGTERM/SIGINT (exit status 0).  --port 0 picks a
free port.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import time
import uuid
from typing import Any

# Import every service whose backend the models below use, and every service with
# built-in CloudFormation models the charts need, *before* the parser's model map is
# first built (it is cached).
from moto.backup import models as backup_models
from moto.cloudformation import parsing
from moto.cloudwatch import models as cloudwatch_models
from moto.core.common_models import CloudFormationModel
from moto.ec2 import models as ec2_models
from moto.ecr import models as ecr_models
from moto.ecs import models as ecs_models
from moto.efs import models as efs_models
from moto.elbv2 import models as elbv2_models
from moto.logs import models as logs_models  # noqa: F401  (AWS::Logs::LogGroup)
from moto.s3 import models as s3_models
from moto.secretsmanager import models as secretsmanager_models
from moto.servicediscovery import models as servicediscovery_models

# The launcher's own modules, beside it (sys.path[0] is this folder).
import ecs_tasks
import iam_like_aws

__all__ = ["install", "main"]

_DYNAMIC_SECRET_REF = re.compile(r"\{\{resolve:secretsmanager:([^}]*)\}\}")


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


def _unknown_attr(resource: str, attr: str) -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    del resource, attr
    return UnformattedGetAttTemplateException()


class _LauncherModel:
    """Shared defaults, mixed in before CloudFormationModel. moto's parser only sees
    *direct* subclasses of CloudFormationModel, so every registered model below names
    CloudFormationModel as a direct base."""

    ATTRIBUTES: dict[str, str] = {}

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "Launcher::Internal::Base"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            raise _unknown_attr(type(self).__name__, attribute_name)
        return getattr(self, self.ATTRIBUTES[attribute_name])

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Default: replace (create the new one, then delete the old one), as CloudFormation
        # does for a replacement update.
        new = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        if new.physical_resource_id != original_resource.physical_resource_id:
            original_resource.delete(account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        del resource_name, cloudformation_json, account_id, region_name


# --------------------------------------------------------------------- Secrets Manager
def _resolve_secret_refs(value: str, account_id: str, region_name: str) -> str:
    """Resolve {{resolve:secretsmanager:id[:SecretString[:json-key[:stage[:version]]]]}}."""
    backend = secretsmanager_models.secretsmanager_backends[account_id][region_name]

    def repl(match: re.Match[str]) -> str:
        spec = match.group(1)
        # The secret id may itself be an ARN containing ':'; the optional parts follow
        # the literal "SecretString" segment.
        if ":SecretString" in spec:
            secret_id, rest = spec.split(":SecretString", 1)
            parts = rest.lstrip(":").split(":") if rest else []
        else:
            secret_id, parts = spec, []
        json_key = parts[0] if len(parts) > 0 and parts[0] else None
        stage = parts[1] if len(parts) > 1 and parts[1] else None
        version = parts[2] if len(parts) > 2 and parts[2] else None
        value = backend.get_secret_value(secret_id, version, stage)["SecretString"]
        if json_key:
            value = str(json.loads(value)[json_key])
        return value

    return _DYNAMIC_SECRET_REF.sub(repl, value)


class CfnSecretsManagerSecret(_LauncherModel, CloudFormationModel):
    """AWS::SecretsManager::Secret. Ref and GetAtt Id return the secret ARN."""

    __module__ = "moto.secretsmanager.launcher_models"
    ATTRIBUTES = {"Id": "arn"}

    def __init__(self, arn: str, name: str) -> None:
        self.arn = arn
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def _secret_string(props: dict[str, Any], account_id: str, region_name: str) -> str | None:
        if "SecretString" in props:
            return _resolve_secret_refs(str(props["SecretString"]), account_id, region_name)
        gen = props.get("GenerateSecretString")
        if gen is None:
            return None
        backend = secretsmanager_models.secretsmanager_backends[account_id][region_name]
        password = json.loads(
            backend.get_random_password(
                password_length=int(gen.get("PasswordLength", 32)),
                exclude_characters=gen.get("ExcludeCharacters", ""),
                exclude_numbers=bool(gen.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(gen.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(gen.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(gen.get("ExcludeLowercase", False)),
                include_space=bool(gen.get("IncludeSpace", False)),
                require_each_included_type=bool(gen.get("RequireEachIncludedType", True)),
            )
        )["RandomPassword"]
        template = gen.get("SecretStringTemplate")
        key = gen.get("GenerateStringKey")
        if template is not None and key:
            doc = json.loads(template)
            doc[key] = password
            return json.dumps(doc)
        return password

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnSecretsManagerSecret:
        props = _props(cloudformation_json)
        backend = secretsmanager_models.secretsmanager_backends[account_id][region_name]
        name = props.get("Name") or resource_name
        created = backend.create_secret(
            name=name,
            secret_string=cls._secret_string(props, account_id, region_name),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags") or [],
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=props.get("ReplicaRegions") or [],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
        return cls(arn, name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = _props(cloudformation_json)
        name = props.get("Name") or original_resource.name
        if name != original_resource.name:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        backend = secretsmanager_models.secretsmanager_backends[account_id][region_name]
        # Like CloudFormation: a generated value is kept on update; an explicit
        # SecretString becomes the new current version.
        secret_string = None
        if "SecretString" in props:
            secret_string = _resolve_secret_refs(str(props["SecretString"]), account_id, region_name)
        backend.update_secret(
            secret_id=original_resource.arn,
            secret_string=secret_string,
            description=props.get("Description"),
        )
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = secretsmanager_models.secretsmanager_backends[account_id][region_name]
        try:
            backend.delete_secret(self.arn, None, True)
        except Exception:  # already gone
            pass


# --------------------------------------------------------------------- Cloud Map
class CfnPrivateDnsNamespace(_LauncherModel, CloudFormationModel):
    """AWS::ServiceDiscovery::PrivateDnsNamespace. Ref returns the namespace id."""

    __module__ = "moto.servicediscovery.launcher_models"
    ATTRIBUTES = {"Id": "id", "Arn": "arn", "HostedZoneId": "hosted_zone_id"}

    def __init__(self, namespace: Any) -> None:
        self.id = namespace.id
        self.arn = namespace.arn
        self.name = namespace.name
        self.hosted_zone_id = (namespace.dns_properties or {}).get("HostedZoneId", "")

    @property
    def physical_resource_id(self) -> str:
        return self.id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::PrivateDnsNamespace"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnPrivateDnsNamespace:
        props = _props(cloudformation_json)
        backend = servicediscovery_models.servicediscovery_backends[account_id][region_name]
        operation_id = backend.create_private_dns_namespace(
            name=props.get("Name") or resource_name,
            creator_request_id=str(uuid.uuid4()),
            description=props.get("Description"),
            vpc=props["Vpc"],
            tags=props.get("Tags") or [],
            properties=props.get("Properties"),
        )
        namespace_id = backend.operations[operation_id].targets["NAMESPACE"]
        return cls(backend.get_namespace(namespace_id))

    def delete(self, account_id: str, region_name: str) -> None:
        backend = servicediscovery_models.servicediscovery_backends[account_id][region_name]
        try:
            backend.delete_namespace(self.id)
        except Exception:
            pass


class CfnServiceDiscoveryService(_LauncherModel, CloudFormationModel):
    """AWS::ServiceDiscovery::Service. Ref returns the service id."""

    __module__ = "moto.servicediscovery.launcher_models"
    ATTRIBUTES = {"Id": "id", "Arn": "arn", "Name": "name"}

    def __init__(self, service: Any) -> None:
        self.id = service.id
        self.arn = service.arn
        self.name = service.name

    @property
    def physical_resource_id(self) -> str:
        return self.id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::Service"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnServiceDiscoveryService:
        props = _props(cloudformation_json)
        backend = servicediscovery_models.servicediscovery_backends[account_id][region_name]
        dns_config = props.get("DnsConfig")
        namespace_id = props.get("NamespaceId") or (dns_config or {}).get("NamespaceId")
        service = backend.create_service(
            name=props.get("Name") or resource_name,
            namespace_id=namespace_id,
            creator_request_id=str(uuid.uuid4()),
            description=props.get("Description"),
            dns_config=dns_config,
            health_check_config=props.get("HealthCheckConfig"),
            health_check_custom_config=props.get("HealthCheckCustomConfig"),
            tags=props.get("Tags") or [],
            service_type=props.get("Type"),
        )
        return cls(service)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = servicediscovery_models.servicediscovery_backends[account_id][region_name]
        backend.delete_service(self.id)


# --------------------------------------------------------------------- AWS Backup
class CfnBackupVault(_LauncherModel, CloudFormationModel):
    """AWS::Backup::BackupVault. Ref returns the vault name."""

    __module__ = "moto.backup.launcher_models"
    ATTRIBUTES = {"BackupVaultName": "name", "BackupVaultArn": "arn"}

    def __init__(self, vault: Any) -> None:
        self.name = vault.backup_vault_name
        self.arn = vault.backup_vault_arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "BackupVaultName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Backup::BackupVault"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnBackupVault:
        props = _props(cloudformation_json)
        backend = backup_models.backup_backends[account_id][region_name]
        vault = backend.create_backup_vault(
            backup_vault_name=props.get("BackupVaultName") or resource_name,
            backup_vault_tags=props.get("BackupVaultTags") or {},
            encryption_key_arn=props.get("EncryptionKeyArn"),
            creator_request_id=str(uuid.uuid4()),
        )
        return cls(vault)

    def delete(self, account_id: str, region_name: str) -> None:
        backup_models.backup_backends[account_id][region_name].delete_backup_vault(self.name)


# --------------------------------------------------------------------- CloudWatch
class CfnCloudWatchAlarm(_LauncherModel, CloudFormationModel):
    """AWS::CloudWatch::Alarm. Ref returns the alarm name."""

    __module__ = "moto.cloudwatch.launcher_models"
    ATTRIBUTES = {"Arn": "arn"}

    def __init__(self, alarm: Any) -> None:
        self.name = alarm.name
        self.arn = alarm.alarm_arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnCloudWatchAlarm:
        props = _props(cloudformation_json)
        backend = cloudwatch_models.cloudwatch_backends[account_id][region_name]

        def num(key: str, conv: Any) -> Any:
            return conv(props[key]) if props.get(key) is not None else None

        alarm = backend.put_metric_alarm(
            name=props.get("AlarmName") or resource_name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=num("EvaluationPeriods", int),
            period=num("Period", int),
            threshold=num("Threshold", float),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=[
                {"Name": str(d["Name"]), "Value": str(d["Value"])}
                for d in props.get("Dimensions") or []
            ],
            alarm_actions=props.get("AlarmActions") or [],
            datapoints_to_alarm=num("DatapointsToAlarm", int),
            extended_statistic=props.get("ExtendedStatistic"),
            ok_actions=props.get("OKActions") or [],
            insufficient_data_actions=props.get("InsufficientDataActions") or [],
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=props.get("ThresholdMetricId"),
        )
        return cls(alarm)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # PutMetricAlarm overwrites an alarm of the same name in place.
        props = _props(cloudformation_json)
        name = props.get("AlarmName") or original_resource.name
        return cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name
        ) if name == original_resource.name else super().update_from_cloudformation_json(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_models.cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


# --------------------------------------------------------------------- S3
class CfnS3BucketPolicy(_LauncherModel, CloudFormationModel):
    """AWS::S3::BucketPolicy. Ref returns a generated physical id, like CloudFormation."""

    __module__ = "moto.s3.launcher_models"

    def __init__(self, physical_id: str, bucket: str) -> None:
        self.physical_id = physical_id
        self.bucket = bucket

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnS3BucketPolicy:
        props = _props(cloudformation_json)
        bucket = props["Bucket"]
        backend = s3_models.s3_backends[account_id][s3_models.get_partition(region_name)]
        backend.put_bucket_policy(bucket, json.dumps(props["PolicyDocument"]).encode())
        return cls(resource_name, bucket)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_models.s3_backends[account_id][s3_models.get_partition(region_name)]
        try:
            backend.delete_bucket_policy(self.bucket)
        except Exception:  # bucket already gone
            pass


# --------------------------------------------------------------------- EC2
class CfnSecurityGroupEgress(_LauncherModel, CloudFormationModel):
    """AWS::EC2::SecurityGroupEgress. Ref returns the security group rule id."""

    __module__ = "moto.ec2.launcher_models"
    ATTRIBUTES = {"Id": "rule_id"}

    def __init__(self, rule_id: str, props: dict[str, Any]) -> None:
        self.rule_id = rule_id
        self.props = props

    @property
    def physical_resource_id(self) -> str:
        return self.rule_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SecurityGroupEgress"

    @staticmethod
    def _rule_args(props: dict[str, Any]) -> dict[str, Any]:
        ip_ranges: list[dict[str, Any]] = []
        if props.get("CidrIp"):
            ip_ranges.append({"CidrIp": props["CidrIp"], "Description": props.get("Description")})
        if props.get("CidrIpv6"):
            ip_ranges.append({"CidrIpv6": props["CidrIpv6"], "Description": props.get("Description")})
        groups = []
        if props.get("DestinationSecurityGroupId"):
            groups.append({"GroupId": props["DestinationSecurityGroupId"],
                           "Description": props.get("Description")})
        prefix_lists = []
        if props.get("DestinationPrefixListId"):
            prefix_lists.append({"PrefixListId": props["DestinationPrefixListId"]})
        return {
            "group_name_or_id": props["GroupId"],
            "ip_protocol": str(props["IpProtocol"]),
            "from_port": props.get("FromPort"),
            "to_port": props.get("ToPort"),
            "ip_ranges": ip_ranges,
            "source_groups": groups,
            "prefix_list_ids": prefix_lists,
        }

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnSecurityGroupEgress:
        props = _props(cloudformation_json)
        backend = ec2_models.ec2_backends[account_id][region_name]
        rules, _group = backend.authorize_security_group_egress(**cls._rule_args(props))
        return cls(rules[0].id if rules else resource_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = ec2_models.ec2_backends[account_id][region_name]
        try:
            backend.revoke_security_group_egress(**self._rule_args(self.props))
        except Exception:  # group already deleted
            pass


# --------------------------------------------------------------------- ECR
class CfnPullThroughCacheRule(_LauncherModel, CloudFormationModel):
    """AWS::ECR::PullThroughCacheRule. moto has no pull-through cache API, so the rule
    is only recorded (on the ECR backend, attribute `launcher_pull_through_rules`).
    Ref returns the repository prefix."""

    __module__ = "moto.ecr.launcher_models"

    def __init__(self, prefix: str, props: dict[str, Any]) -> None:
        self.prefix = prefix
        self.props = props

    @property
    def physical_resource_id(self) -> str:
        return self.prefix

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ECR::PullThroughCacheRule"

    @staticmethod
    def _rules(account_id: str, region_name: str) -> dict[str, Any]:
        backend = ecr_models.ecr_backends[account_id][region_name]
        if not hasattr(backend, "launcher_pull_through_rules"):
            backend.launcher_pull_through_rules = {}
        return backend.launcher_pull_through_rules

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnPullThroughCacheRule:
        props = _props(cloudformation_json)
        prefix = props.get("EcrRepositoryPrefix") or "ROOT"
        if not props.get("UpstreamRegistryUrl"):
            raise ValueError("AWS::ECR::PullThroughCacheRule needs UpstreamRegistryUrl")
        rules = cls._rules(account_id, region_name)
        if prefix in rules:
            raise ValueError(f"pull through cache rule for prefix {prefix} already exists")
        rules[prefix] = props
        return cls(prefix, props)

    def delete(self, account_id: str, region_name: str) -> None:
        self._rules(account_id, region_name).pop(self.prefix, None)


# --------------------------------------------------------------------- completions
def _add_cfn_attributes(cls: Any, attrs: dict[str, Any]) -> None:
    """Give an existing moto model the Fn::GetAtt attributes CloudFormation has."""
    known = dict(attrs)
    previous = getattr(cls, "get_cfn_attribute", None)

    def get_cfn_attribute(self: Any, name: str) -> Any:
        if name in known:
            return known[name](self)
        if previous is not None:
            return previous(self, name)
        raise _unknown_attr(cls.__name__, name)

    previous_has = getattr(cls, "has_cfn_attr", None)

    def has_cfn_attr(klass: Any, attr: str) -> bool:
        return attr in known or bool(previous_has and previous_has(attr))

    cls.get_cfn_attribute = get_cfn_attribute
    cls.has_cfn_attr = classmethod(has_cfn_attr)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property shapes -> the ECS API's camelCase shapes."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _complete_ecs_service() -> None:
    """moto's AWS::ECS::Service create passes only cluster, name, count and task
    definition. Pass the launch type, network configuration, load balancers, Cloud Map
    registries, tags and platform version too, and start at 1 task when DesiredCount is
    absent, as ECS does (a later update without DesiredCount keeps the live count,
    which moto's update already does)."""
    service_cls = ecs_models.Service

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json["Properties"]
        cluster = props["Cluster"]
        cluster = cluster.name if isinstance(cluster, ecs_models.Cluster) else cluster
        task_def = props["TaskDefinition"]
        task_def = task_def.family if isinstance(task_def, ecs_models.TaskDefinition) else task_def
        desired = props.get("DesiredCount")
        backend = ecs_models.ecs_backends[account_id][region_name]
        return backend.create_service(
            cluster,
            props.get("ServiceName") or resource_name,
            int(desired) if desired is not None else 1,
            task_definition_str=task_def,
            load_balancers=_camel(props.get("LoadBalancers") or []),
            scheduling_strategy=props.get("SchedulingStrategy"),
            tags=_camel(props.get("Tags") or []),
            deployment_controller=_camel(props.get("DeploymentController")),
            launch_type=props.get("LaunchType"),
            service_registries=_camel(props.get("ServiceRegistries") or []),
            platform_version=props.get("PlatformVersion"),
            propagate_tags=props.get("PropagateTags") or "NONE",
            network_configuration=_camel(props.get("NetworkConfiguration")),
            role_arn=props.get("Role"),
        )

    service_cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _complete_task_definition() -> None:
    """moto's AWS::ECS::TaskDefinition create passes only family, containers, volumes and
    memory (no cpu, roles, network mode, compatibilities), and its update passes the
    container definitions with CloudFormation's PascalCase keys, so a task definition
    replaced by a stack update reads back without its environment, secrets or command.
    Register every property, camelCased as the ECS API has them, on create and update
    (an update registers a new revision, as CloudFormation does)."""
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    td_cls = ecs_models.TaskDefinition

    def register(props: dict[str, Any], account_id: str, region_name: str) -> Any:
        camel = lambda v: remap_nested_keys(v, pascal_to_camelcase)  # noqa: E731
        backend = ecs_models.ecs_backends[account_id][region_name]
        return backend.register_task_definition(
            family=props.get("Family") or f"task-definition-{uuid.uuid4().hex[:8]}",
            container_definitions=camel(props.get("ContainerDefinitions") or []),
            volumes=camel(props.get("Volumes") or []),
            network_mode=props.get("NetworkMode"),
            tags=_camel(props.get("Tags") or []),
            requires_compatibilities=props.get("RequiresCompatibilities"),
            cpu=props.get("Cpu"),
            memory=props.get("Memory"),
            task_role_arn=props.get("TaskRoleArn"),
            execution_role_arn=props.get("ExecutionRoleArn"),
            runtime_platform=camel(props.get("RuntimePlatform")) if props.get("RuntimePlatform") else None,
        )

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        del cls, resource_name, kwargs
        return register(cloudformation_json["Properties"], account_id, region_name)

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str) -> Any:
        del cls, new_resource_name
        new = register(cloudformation_json["Properties"], account_id, region_name)
        ecs_models.ecs_backends[account_id][region_name].deregister_task_definition(
            original_resource.arn)
        return new

    td_cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    td_cls.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


def _references(value: Any) -> set[str]:
    """Logical ids and condition names a resource's JSON refers to (Ref, Fn::GetAtt,
    Fn::Sub, Fn::If, Condition)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text)))
            elif key in ("Fn::If", "Condition"):
                # A condition name; an IAM policy's "Condition" block is a dict instead.
                name = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(name, str):
                    found.add(name)
            found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _dependents_follow_their_dependencies() -> None:
    """CloudFormation re-evaluates every Ref and GetAtt of an update, so a resource whose
    property refers to a replaced resource (a new task definition revision) or to a
    condition that changed value (CreateServicesAtZero) is updated too. moto updates a
    resource only when its own JSON or a parameter it names directly changed: the ECS
    service kept an INACTIVE task definition after a DeploymentSize update. Add those
    dependents to the update, in dependency order."""
    original = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: dict[str, Any],
                            parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        diff = original(self, other_template, parameters)
        new = other_template.get("Resources", {})
        changed: set[str] = set(diff["Modify"])
        if parameters:
            params = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
            for cond, body in (other_template.get("Conditions") or {}).items():
                if _references(body) & params:
                    changed.add(cond)
        grew = True
        while grew:
            grew = False
            for name, res in new.items():
                if name in changed or name not in self._resource_json_map:
                    continue
                if _references(res) & changed:
                    changed.add(name)
                    diff["Modify"].append(name)
                    grew = True
        return diff

    parsing.ResourceMap.build_resource_diff = build_resource_diff


def _complete_iam_role() -> None:
    """moto's AWS::IAM::Role create ignores ManagedPolicyArns and stores each inline
    policy as a Python dict, which GetRolePolicy then returns as its repr instead of JSON.
    Attach the managed policies and store the inline ones as JSON, as IAM does."""
    from moto.iam import models as iam_models

    role_cls = iam_models.Role
    create = role_cls.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = dict(cloudformation_json["Properties"])
        inline = props.pop("Policies", [])
        role = create(cls, resource_name, {**cloudformation_json, "Properties": props},
                      account_id, region_name, **kwargs)
        backend = iam_models.iam_backends[account_id]["aws"]
        for policy in inline:
            doc = policy["PolicyDocument"]
            role.put_policy(policy["PolicyName"], doc if isinstance(doc, str) else json.dumps(doc))
        for arn in props.get("ManagedPolicyArns") or []:
            # moto holds the documents of few AWS managed policies (the Backup service
            # role's are not among them): those it lacks stay unattached, as before.
            if ":iam::aws:policy/" in arn and arn not in backend.managed_policies:
                continue
            backend.attach_role_policy(arn, role.name)
        return role

    role_cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _dynamodb_tables_are_creating_at_first() -> None:
    """DynamoDB's CreateTable "immediately returns a response with a TableStatus of
    CREATING ... You can perform read and write operations only on an ACTIVE table"
    (CreateTable API reference); moto's tables are ACTIVE at once. A new table here is
    CREATING for BCO_DYNAMODB_CREATING_SECONDS (default 1), and its items refuse reads
    and writes with ResourceNotFoundException meanwhile, as on AWS."""
    import os

    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    delay = float(os.environ.get("BCO_DYNAMODB_CREATING_SECONDS", "1"))
    create = DynamoDBBackend.create_table

    def create_table(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        table = create(self, name, *args, **kwargs)
        table.bco_active_at = time.monotonic() + delay
        return table

    DynamoDBBackend.create_table = create_table
    describe = Table.describe

    def describe_table(self: Any, base_key: str = "TableDescription") -> Any:
        out = describe(self, base_key=base_key)
        if time.monotonic() < getattr(self, "bco_active_at", 0.0):
            out[base_key]["TableStatus"] = "CREATING"
        return out

    Table.describe = describe_table

    def refuse_until_active(method: Any) -> Any:
        def wrapper(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            table = self.tables.get(table_name)
            if table is not None and time.monotonic() < getattr(table, "bco_active_at", 0.0):
                raise ResourceNotFoundException(table_name=table_name)
            return method(self, table_name, *args, **kwargs)

        return wrapper

    for name in ("put_item", "get_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, refuse_until_active(getattr(DynamoDBBackend, name)))


def _drop_novalue_list_items() -> None:
    """Real CloudFormation removes a list element that resolves to AWS::NoValue (e.g.
    `- !If [Cond, x, !Ref AWS::NoValue]`); moto's clean_json keeps it as None."""
    original = parsing.clean_json
    if getattr(original, "_launcher_wrapped", False):
        return

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        result = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(result, list):
            return [item for item in result if item is not None]
        return result

    clean_json._launcher_wrapped = True  # type: ignore[attr-defined]
    parsing.clean_json = clean_json


def _complete_route_deletion() -> None:
    """moto's AWS::EC2::RouteTable and AWS::EC2::Route have no delete, so a stack
    deletion leaves them behind and then fails to delete the VPC."""
    route_tables = sys.modules["moto.ec2.models.route_tables"]

    def delete_route_table(self: Any, account_id: str, region_name: str) -> None:
        ec2_models.ec2_backends[account_id][region_name].delete_route_table(self.id)

    def delete_route(self: Any, account_id: str, region_name: str) -> None:
        try:
            ec2_models.ec2_backends[account_id][region_name].delete_route(
                self.route_table.id, self.destination_cidr_block)
        except Exception:  # the route table (and its routes) is already gone
            pass

    if not hasattr(route_tables.RouteTable, "delete"):
        route_tables.RouteTable.delete = delete_route_table
    if not hasattr(route_tables.Route, "delete"):
        route_tables.Route.delete = delete_route


def _complete_existing_models() -> None:
    """Give existing moto models the Ref/GetAtt values CloudFormation returns."""
    _complete_route_deletion()
    _complete_ecs_service()
    _complete_task_definition()
    _dependents_follow_their_dependencies()
    _complete_iam_role()
    _dynamodb_tables_are_creating_at_first()
    _drop_novalue_list_items()
    _add_cfn_attributes(efs_models.FileSystem, {
        "Arn": lambda fs: fs.file_system_arn,
        "FileSystemId": lambda fs: fs.file_system_id,
    })
    access_point = efs_models.AccessPoint
    if not hasattr(access_point, "physical_resource_id"):
        access_point.physical_resource_id = property(lambda self: self.access_point_id)
    access_point_attrs = {"Arn": "access_point_arn", "AccessPointId": "access_point_id"}
    access_point.has_cfn_attr = classmethod(lambda cls, attr: attr in access_point_attrs)

    def access_point_attr(self: Any, name: str) -> Any:
        if name not in access_point_attrs:
            raise _unknown_attr("AccessPoint", name)
        return getattr(self, access_point_attrs[name])

    access_point.get_cfn_attribute = access_point_attr

    target_group = elbv2_models.FakeTargetGroup
    if not hasattr(target_group, "get_cfn_attribute"):
        def target_group_attr(self: Any, name: str) -> Any:
            if name == "TargetGroupFullName":
                return self.arn.split(":")[-1]
            if name == "TargetGroupArn":
                return self.arn
            if name == "TargetGroupName":
                return self.name
            if name == "LoadBalancerArns":
                return list(getattr(self, "load_balancer_arns", []))
            raise _unknown_attr("TargetGroup", name)

        target_group.get_cfn_attribute = target_group_attr
        target_group.has_cfn_attr = classmethod(
            lambda cls, attr: attr in ("TargetGroupFullName", "TargetGroupArn",
                                       "TargetGroupName", "LoadBalancerArns")
        )


ADDED_TYPES = [
    model.cloudformation_type()
    for model in (
        CfnSecretsManagerSecret,
        CfnPrivateDnsNamespace,
        CfnServiceDiscoveryService,
        CfnBackupVault,
        CfnCloudWatchAlarm,
        CfnS3BucketPolicy,
        CfnSecurityGroupEgress,
        CfnPullThroughCacheRule,
    )
]


def _add_update_termination_protection() -> None:
    """moto's stack model keeps `enable_termination_protection` (CreateStack sets it and
    DescribeStacks reports it) but has no handler for UpdateTerminationProtection, the
    call that sets it after a change-set create; add it over the same model."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = bool(
            self._get_bool_param("EnableTerminationProtection")
        )
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection


def _complete_change_set_execution() -> None:
    """moto executes a change set on the resources only: the stack keeps the template,
    outputs, parameters and tags it had (a CREATE change set's stack has no outputs at
    all). moto's UpdateStack path (`Stack.update`) does all of it; do the same here."""
    from moto.cloudformation import models as cfn_models

    apply_resources = cfn_models.ChangeSet.apply

    def apply(self: Any) -> None:
        apply_resources(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        if self.parameters:
            stack.parameters = self.parameters
        if self.tags is not None:
            stack.tags = self.tags

    cfn_models.ChangeSet.apply = apply


def _backup_list_tags_without_trailing_slash() -> None:
    """moto's Backup ListTags takes the ARN as the path's second-to-last segment, which
    holds only for boto3's `/tags/<arn>/`; the Rust SDK sends `/tags/<arn>` and moto then
    looks up the tags of "tags". Read the ARN after `/tags/` either way."""
    from urllib.parse import unquote as _unquote

    from moto.backup.responses import BackupResponse

    def list_tags(self: Any) -> str:
        arn = _unquote(self.path.split("/tags/", 1)[1].split("?", 1)[0].rstrip("/"))
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})

    BackupResponse.list_tags = list_tags


def _backup_plan_name_free_after_delete() -> None:
    """moto keeps a deleted backup plan (with a deletion date) and still counts its name
    as taken; AWS Backup lets a new plan reuse the name of a deleted one. Leave deleted
    plans out of the name check."""
    from moto.backup.models import BackupBackend

    create = BackupBackend.create_backup_plan

    def create_backup_plan(self: Any, backup_plan: Any, backup_plan_tags: Any, creator_request_id: Any) -> Any:
        deleted = {k: p for k, p in self.plans.items() if p.deletion_date is not None}
        for k in deleted:
            del self.plans[k]
        try:
            return create(self, backup_plan, backup_plan_tags, creator_request_id)
        finally:
            self.plans.update(deleted)

    BackupBackend.create_backup_plan = create_backup_plan


def _retries_are_idempotent() -> None:
    """AWS makes a retried request safe; moto 5.2.5 repeats it. A client retries a
    request whose answer was lost (a reset connection), so these matter to the fault
    suite (tests/it/faults.rs):
    - CreateChangeSet: a change set name already used on the stack is refused
      (AlreadyExistsException), unless the request repeats the same ClientToken, which
      returns the change set made the first time; a CREATE change set for a stack left
      in REVIEW_IN_PROGRESS reuses that stack (moto made a second stack of that name);
    - ExecuteChangeSet: a change set no longer AVAILABLE is refused
      (InvalidChangeSetStatus), unless the request repeats the ClientRequestToken of the
      execution that worked (moto executed it again);
    - CreateBackupPlan: a repeated CreatorRequestId returns the plan it created (moto
      refused the name as taken)."""
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
    from moto.core.responses import ActionResult, EmptyResult

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatusException"

    backend_create = cfn_models.CloudFormationBackend.create_change_set

    def create_change_set(self: Any, stack_name: str, change_set_name: str, *args: Any, **kwargs: Any) -> Any:
        change_set_type = kwargs.get("change_set_type", "CREATE")
        waiting = None
        if change_set_type != "UPDATE":
            live = [s for s in self.stacks.values() if s.name == stack_name]
            if live and live[0].status != "REVIEW_IN_PROGRESS":
                raise ValidationError(
                    message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}]."
                )
            waiting = live[0] if live else None
        before = set(self.stacks)
        change_set_id, stack_id = backend_create(self, stack_name, change_set_name, *args, **kwargs)
        if waiting is not None:
            for made in set(self.stacks) - before:
                del self.stacks[made]
            change_set = self.change_sets[change_set_id]
            change_set.stack = waiting
            change_set.stack_id = waiting.stack_id
            stack_id = waiting.stack_id
        return change_set_id, stack_id

    cfn_models.CloudFormationBackend.create_change_set = create_change_set

    response_create = cfn_responses.CloudFormationResponse.create_change_set

    def create_change_set_response(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        stack_name = self._get_param("StackName")
        token = self._get_param("ClientToken")
        for cs in self.cloudformation_backend.change_sets.values():
            gone = cs.stack.status == "DELETE_COMPLETE"
            if cs.change_set_name == name and stack_name in (cs.stack_name, cs.stack_id) and not gone:
                if token and getattr(cs, "client_token", None) == token:
                    return ActionResult({"Id": cs.change_set_id, "StackId": cs.stack_id})
                raise AlreadyExistsException(f"ChangeSet {name} already exists")
        result = response_create(self)
        for cs in self.cloudformation_backend.change_sets.values():
            if cs.change_set_name == name and not hasattr(cs, "client_token"):
                cs.client_token = token
        return result

    cfn_responses.CloudFormationResponse.create_change_set = create_change_set_response

    response_execute = cfn_responses.CloudFormationResponse.execute_change_set

    def execute_change_set_response(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        token = self._get_param("ClientRequestToken")
        sets = self.cloudformation_backend.change_sets
        found = sets.get(name) or next((cs for cs in sets.values() if cs.change_set_name == name), None)
        if found is not None and found.execution_status != "AVAILABLE":
            if token and getattr(found, "execute_token", None) == token:
                return EmptyResult()
            raise InvalidChangeSetStatus(
                f"ChangeSet [{found.change_set_id}] cannot be executed in its current execution status of [{found.execution_status}]"
            )
        result = response_execute(self)
        if found is not None:
            found.execute_token = token
        return result

    cfn_responses.CloudFormationResponse.execute_change_set = execute_change_set_response

    from moto.backup.models import BackupBackend

    create_plan = BackupBackend.create_backup_plan

    def create_backup_plan(self: Any, backup_plan: Any, backup_plan_tags: Any, creator_request_id: Any) -> Any:
        if creator_request_id:
            for plan in self.plans.values():
                if plan.creator_request_id == creator_request_id and plan.deletion_date is None:
                    return plan
        return create_plan(self, backup_plan, backup_plan_tags, creator_request_id)

    BackupBackend.create_backup_plan = create_backup_plan


def install() -> list[str]:
    """Complete moto's CloudFormation engine; returns the resource types added."""
    _complete_existing_models()
    _add_update_termination_protection()
    _complete_change_set_execution()
    iam_like_aws.install()
    _backup_list_tags_without_trailing_slash()
    _backup_plan_name_free_after_delete()
    _retries_are_idempotent()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    model_map = parsing.get_model_map()
    for cfn_type in ADDED_TYPES:
        assert model_map[cfn_type].__module__.startswith("moto."), cfn_type
    return ADDED_TYPES


# --------------------------------------------------------------------- server
def _wait_accepting(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    args = parser.parse_args(argv)

    install()
    # ECS tasks that really start, when a test asks for them (ecs_tasks.py).
    endpoint: list[str] = [""]
    tasks = ecs_tasks.install(endpoint)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    _wait_accepting(args.host, port)
    endpoint[0] = f"http://{args.host}:{port}"

    # A plain flag, not a threading.Event: the handler runs on the main thread, which may
    # hold the Event's lock inside wait(), and set() would then deadlock on it.
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        del signum, frame
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    shown_host = args.host if args.host not in ("0.0.0.0", "") else host
    print(f"moto listening on http://{shown_host}:{port}", flush=True)
    while not stop:
        time.sleep(0.2)
    if tasks:
        ecs_tasks.stop_all()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
