"""CloudFormation models moto 5.2.5 lacks though it serves the API: Secrets Manager
secrets (GenerateSecretString, {{resolve:secretsmanager:...}}), Cloud Map namespaces and
services, Backup vaults and CloudWatch alarms. Each delegates to moto's own backend, so
what a stack creates is visible through the ordinary APIs; each sets `__module__` to
"moto.<service>...", which moto's model metaclass files it under."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from moto.backup import models as backup_models
from moto.cloudwatch import models as cloudwatch_models
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager import models as secretsmanager_models
from moto.servicediscovery import models as servicediscovery_models

from cfn_base import _LauncherModel, _props


_DYNAMIC_SECRET_REF = re.compile(r"\{\{resolve:secretsmanager:([^}]*)\}\}")


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
    CFN_TYPE = "AWS::SecretsManager::Secret"
    CFN_NAME_TYPE = "Name"
    PHYSICAL_ID = "arn"
    ATTRIBUTES = {"Id": "arn"}

    def __init__(self, arn: str, name: str) -> None:
        self.arn = arn
        self.name = name

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
    CFN_TYPE = "AWS::ServiceDiscovery::PrivateDnsNamespace"
    CFN_NAME_TYPE = "Name"
    PHYSICAL_ID = "id"
    ATTRIBUTES = {"Id": "id", "Arn": "arn", "HostedZoneId": "hosted_zone_id"}

    def __init__(self, namespace: Any) -> None:
        self.id = namespace.id
        self.arn = namespace.arn
        self.name = namespace.name
        self.hosted_zone_id = (namespace.dns_properties or {}).get("HostedZoneId", "")

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
    CFN_TYPE = "AWS::ServiceDiscovery::Service"
    CFN_NAME_TYPE = "Name"
    PHYSICAL_ID = "id"
    ATTRIBUTES = {"Id": "id", "Arn": "arn", "Name": "name"}

    def __init__(self, service: Any) -> None:
        self.id = service.id
        self.arn = service.arn
        self.name = service.name

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
    CFN_TYPE = "AWS::Backup::BackupVault"
    CFN_NAME_TYPE = "BackupVaultName"
    PHYSICAL_ID = "name"
    ATTRIBUTES = {"BackupVaultName": "name", "BackupVaultArn": "arn"}

    def __init__(self, vault: Any) -> None:
        self.name = vault.backup_vault_name
        self.arn = vault.backup_vault_arn

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
    CFN_TYPE = "AWS::CloudWatch::Alarm"
    CFN_NAME_TYPE = "AlarmName"
    PHYSICAL_ID = "name"
    ATTRIBUTES = {"Arn": "arn"}

    def __init__(self, alarm: Any) -> None:
        self.name = alarm.name
        self.arn = alarm.alarm_arn

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


