"""CloudFormation models moto 5.2.5 lacks, continued: S3 bucket policies, EC2
security-group egress rules, and ECR pull-through cache rules (moto has no pull-through
API, so the rule is only recorded)."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.ec2 import models as ec2_models
from moto.ecr import models as ecr_models
from moto.s3 import models as s3_models

from cfn_base import _LauncherModel, _props


# --------------------------------------------------------------------- S3
class CfnS3BucketPolicy(_LauncherModel, CloudFormationModel):
    """AWS::S3::BucketPolicy. Ref returns a generated physical id, like CloudFormation."""

    __module__ = "moto.s3.launcher_models"
    CFN_TYPE = "AWS::S3::BucketPolicy"
    PHYSICAL_ID = "physical_id"

    def __init__(self, physical_id: str, bucket: str) -> None:
        self.physical_id = physical_id
        self.bucket = bucket

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
    CFN_TYPE = "AWS::EC2::SecurityGroupEgress"
    PHYSICAL_ID = "rule_id"
    ATTRIBUTES = {"Id": "rule_id"}

    def __init__(self, rule_id: str, props: dict[str, Any]) -> None:
        self.rule_id = rule_id
        self.props = props

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
    CFN_TYPE = "AWS::ECR::PullThroughCacheRule"
    PHYSICAL_ID = "prefix"

    def __init__(self, prefix: str, props: dict[str, Any]) -> None:
        self.prefix = prefix
        self.props = props

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


