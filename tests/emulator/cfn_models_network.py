"""CloudFormation models moto 5.2.5 lacks, continued: S3 bucket policies, EC2
security-group egress rules, and ECR pull-through cache rules (moto has no pull-through
API, so the rule is only recorded)."""

from __future__ import annotations

import json
from typing import Any

from moto.ec2 import models as ec2_models
from moto.ecr import models as ecr_models
from moto.s3 import models as s3_models

from cfn_base import Resource, model


# --------------------------------------------------------------------- S3
def _s3(account_id: str, region_name: str) -> Any:
    return s3_models.s3_backends[account_id][s3_models.get_partition(region_name)]


def _put_bucket_policy(props: dict[str, Any], logical: str, account_id: str,
                       region_name: str) -> dict[str, Any]:
    _s3(account_id, region_name).put_bucket_policy(
        props["Bucket"], json.dumps(props["PolicyDocument"]).encode()
    )
    # Ref returns a generated physical id, like CloudFormation's.
    return {"physical_id": logical, "bucket": props["Bucket"]}


def _delete_bucket_policy(state: dict[str, Any], account_id: str, region_name: str) -> None:
    try:
        _s3(account_id, region_name).delete_bucket_policy(state["bucket"])
    except Exception:  # bucket already gone
        pass


# --------------------------------------------------------------------- EC2
def _egress_args(props: dict[str, Any]) -> dict[str, Any]:
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


def _authorize_egress(props: dict[str, Any], logical: str, account_id: str,
                      region_name: str) -> dict[str, Any]:
    backend = ec2_models.ec2_backends[account_id][region_name]
    rules, _group = backend.authorize_security_group_egress(**_egress_args(props))
    return {"rule_id": rules[0].id if rules else logical, "props": props}


def _revoke_egress(state: dict[str, Any], account_id: str, region_name: str) -> None:
    try:
        ec2_models.ec2_backends[account_id][region_name].revoke_security_group_egress(
            **_egress_args(state["props"])
        )
    except Exception:  # group already deleted
        pass


# --------------------------------------------------------------------- ECR
def _pull_through_rules(account_id: str, region_name: str) -> dict[str, Any]:
    """moto has no pull-through cache API: the rules are recorded on the ECR backend
    (attribute `launcher_pull_through_rules`)."""
    backend = ecr_models.ecr_backends[account_id][region_name]
    if not hasattr(backend, "launcher_pull_through_rules"):
        backend.launcher_pull_through_rules = {}
    return backend.launcher_pull_through_rules


def _create_pull_through_rule(props: dict[str, Any], logical: str, account_id: str,
                              region_name: str) -> dict[str, Any]:
    del logical
    prefix = props.get("EcrRepositoryPrefix") or "ROOT"
    if not props.get("UpstreamRegistryUrl"):
        raise ValueError("AWS::ECR::PullThroughCacheRule needs UpstreamRegistryUrl")
    rules = _pull_through_rules(account_id, region_name)
    if prefix in rules:
        raise ValueError(f"pull through cache rule for prefix {prefix} already exists")
    rules[prefix] = props
    return {"prefix": prefix, "props": props}


def _delete_pull_through_rule(state: dict[str, Any], account_id: str, region_name: str) -> None:
    _pull_through_rules(account_id, region_name).pop(state["prefix"], None)


RESOURCES = [
    Resource("AWS::S3::BucketPolicy", "s3", "physical_id", _put_bucket_policy,
             _delete_bucket_policy),
    # Ref returns the security group rule id.
    Resource("AWS::EC2::SecurityGroupEgress", "ec2", "rule_id", _authorize_egress,
             _revoke_egress, {"Id": "rule_id"}),
    # Ref returns the repository prefix.
    Resource("AWS::ECR::PullThroughCacheRule", "ecr", "prefix", _create_pull_through_rule,
             _delete_pull_through_rule),
]

MODELS = [model(r) for r in RESOURCES]
