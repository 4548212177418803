"""CloudFormation models moto 5.2.5 lacks though it serves the API: Secrets Manager
secrets (GenerateSecretString, {{resolve:secretsmanager:...}}), Cloud Map namespaces and
services, Backup vaults and CloudWatch alarms. Each delegates to moto's own backend, so
what a stack creates is visible through the ordinary APIs. Each is a row of `RESOURCES`
(cfn_base.Resource): its create, update and delete as plain functions of a state dict."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from moto.backup import models as backup_models
from moto.cloudwatch import models as cloudwatch_models
from moto.secretsmanager import models as secretsmanager_models
from moto.servicediscovery import models as servicediscovery_models

from cfn_base import Resource, model


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


def _secrets(account_id: str, region_name: str) -> Any:
    return secretsmanager_models.secretsmanager_backends[account_id][region_name]


def _secret_string(props: dict[str, Any], account_id: str, region_name: str) -> str | None:
    if "SecretString" in props:
        return _resolve_secret_refs(str(props["SecretString"]), account_id, region_name)
    gen = props.get("GenerateSecretString")
    if gen is None:
        return None
    password = json.loads(
        _secrets(account_id, region_name).get_random_password(
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


def _create_secret(props: dict[str, Any], logical: str, account_id: str, region_name: str) -> dict[str, Any]:
    name = props.get("Name") or logical
    created = _secrets(account_id, region_name).create_secret(
        name=name,
        secret_string=_secret_string(props, account_id, region_name),
        secret_binary=None,
        description=props.get("Description"),
        tags=props.get("Tags") or [],
        kms_key_id=props.get("KmsKeyId"),
        client_request_token=None,
        replica_regions=props.get("ReplicaRegions") or [],
        force_overwrite=False,
    )
    arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
    return {"arn": arn, "name": name}


def _update_secret(state: dict[str, Any], props: dict[str, Any], account_id: str,
                   region_name: str) -> dict[str, Any] | None:
    if (props.get("Name") or state["name"]) != state["name"]:
        return None  # a new name is a new secret
    # Like CloudFormation: a generated value is kept on update; an explicit SecretString
    # becomes the new current version.
    secret_string = None
    if "SecretString" in props:
        secret_string = _resolve_secret_refs(str(props["SecretString"]), account_id, region_name)
    _secrets(account_id, region_name).update_secret(
        secret_id=state["arn"], secret_string=secret_string, description=props.get("Description")
    )
    return state


def _delete_secret(state: dict[str, Any], account_id: str, region_name: str) -> None:
    try:
        _secrets(account_id, region_name).delete_secret(state["arn"], None, True)
    except Exception:  # already gone
        pass


# --------------------------------------------------------------------- Cloud Map
def _cloud_map(account_id: str, region_name: str) -> Any:
    return servicediscovery_models.servicediscovery_backends[account_id][region_name]


def _create_namespace(props: dict[str, Any], logical: str, account_id: str, region_name: str) -> dict[str, Any]:
    backend = _cloud_map(account_id, region_name)
    operation_id = backend.create_private_dns_namespace(
        name=props.get("Name") or logical,
        creator_request_id=str(uuid.uuid4()),
        description=props.get("Description"),
        vpc=props["Vpc"],
        tags=props.get("Tags") or [],
        properties=props.get("Properties"),
    )
    ns = backend.get_namespace(backend.operations[operation_id].targets["NAMESPACE"])
    return {"id": ns.id, "arn": ns.arn, "name": ns.name,
            "hosted_zone_id": (ns.dns_properties or {}).get("HostedZoneId", "")}


def _delete_namespace(state: dict[str, Any], account_id: str, region_name: str) -> None:
    try:
        _cloud_map(account_id, region_name).delete_namespace(state["id"])
    except Exception:
        pass


def _create_discovery_service(props: dict[str, Any], logical: str, account_id: str,
                              region_name: str) -> dict[str, Any]:
    dns_config = props.get("DnsConfig")
    service = _cloud_map(account_id, region_name).create_service(
        name=props.get("Name") or logical,
        namespace_id=props.get("NamespaceId") or (dns_config or {}).get("NamespaceId"),
        creator_request_id=str(uuid.uuid4()),
        description=props.get("Description"),
        dns_config=dns_config,
        health_check_config=props.get("HealthCheckConfig"),
        health_check_custom_config=props.get("HealthCheckCustomConfig"),
        tags=props.get("Tags") or [],
        service_type=props.get("Type"),
    )
    return {"id": service.id, "arn": service.arn, "name": service.name}


def _delete_discovery_service(state: dict[str, Any], account_id: str, region_name: str) -> None:
    _cloud_map(account_id, region_name).delete_service(state["id"])


# --------------------------------------------------------------------- AWS Backup
def _create_vault(props: dict[str, Any], logical: str, account_id: str, region_name: str) -> dict[str, Any]:
    vault = backup_models.backup_backends[account_id][region_name].create_backup_vault(
        backup_vault_name=props.get("BackupVaultName") or logical,
        backup_vault_tags=props.get("BackupVaultTags") or {},
        encryption_key_arn=props.get("EncryptionKeyArn"),
        creator_request_id=str(uuid.uuid4()),
    )
    return {"name": vault.backup_vault_name, "arn": vault.backup_vault_arn}


def _delete_vault(state: dict[str, Any], account_id: str, region_name: str) -> None:
    backup_models.backup_backends[account_id][region_name].delete_backup_vault(state["name"])


# --------------------------------------------------------------------- CloudWatch
def _put_alarm(props: dict[str, Any], logical: str, account_id: str, region_name: str) -> dict[str, Any]:
    def num(key: str, conv: Any) -> Any:
        return conv(props[key]) if props.get(key) is not None else None

    alarm = cloudwatch_models.cloudwatch_backends[account_id][region_name].put_metric_alarm(
        name=props.get("AlarmName") or logical,
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
    return {"name": alarm.name, "arn": alarm.alarm_arn}


def _update_alarm(state: dict[str, Any], props: dict[str, Any], account_id: str,
                  region_name: str) -> dict[str, Any] | None:
    # PutMetricAlarm overwrites an alarm of the same name in place; a new name replaces it.
    name = props.get("AlarmName") or state["name"]
    return _put_alarm(props, name, account_id, region_name) if name == state["name"] else None


def _delete_alarm(state: dict[str, Any], account_id: str, region_name: str) -> None:
    cloudwatch_models.cloudwatch_backends[account_id][region_name].delete_alarms([state["name"]])


RESOURCES = [
    # Ref and GetAtt Id return the secret ARN.
    Resource("AWS::SecretsManager::Secret", "secretsmanager", "arn", _create_secret,
             _delete_secret, {"Id": "arn"}, "Name", _update_secret),
    Resource("AWS::ServiceDiscovery::PrivateDnsNamespace", "servicediscovery", "id",
             _create_namespace, _delete_namespace,
             {"Id": "id", "Arn": "arn", "HostedZoneId": "hosted_zone_id"}, "Name"),
    Resource("AWS::ServiceDiscovery::Service", "servicediscovery", "id",
             _create_discovery_service, _delete_discovery_service,
             {"Id": "id", "Arn": "arn", "Name": "name"}, "Name"),
    Resource("AWS::Backup::BackupVault", "backup", "name", _create_vault, _delete_vault,
             {"BackupVaultName": "name", "BackupVaultArn": "arn"}, "BackupVaultName"),
    Resource("AWS::CloudWatch::Alarm", "cloudwatch", "name", _put_alarm, _delete_alarm,
             {"Arn": "arn"}, "AlarmName", _update_alarm),
]

MODELS = [model(r) for r in RESOURCES]
