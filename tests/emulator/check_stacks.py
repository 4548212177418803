#!/usr/bin/env python3
"""Acceptance check of charts/*.yaml against a moto server started by moto_launcher.py.

    python tests/emulator/check_stacks.py --endpoint http://127.0.0.1:5000

Creates, in us-west-2 with dummy credentials:
  1. charts/stack.yaml with defaults (http-only, ImagePullMode=nat);
  2. charts/stack.yaml with a well-formed fake ACM certificate ARN and
     ImagePullMode=pull-through (+ an ecr-pullthroughcache/ credential secret);
  3. charts/operator.yaml in a VPC made for it;
then checks that each reaches CREATE_COMPLETE with every expected output non-empty and
that the resources exist in moto's services; finally deletes stack 1 and reports
whether the EFS file system (DeletionPolicy: Retain) survived.  Exits non-zero on any
failure.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
ACCOUNT = "123456789012"

STACK_OUTPUTS = [
    "ALBEndpoint", "ClusterName", "OpenWebUIServiceName", "LiteLLMServiceName",
    "ConfigBucketName", "ConfigObjectKey", "FileSystemId", "FileSystemArn",
    "BackupVaultName", "BackupRoleArn", "ListenerMode",
]
OPERATOR_OUTPUTS = ["OperatorServiceName", "TaskRoleArn", "CloudFormationRoleArn", "LogGroupName"]


def _policy_doc(doc: Any) -> dict[str, Any]:
    """IAM policy document as returned by moto: a dict, URL-encoded JSON, or (for
    CloudFormation-created inline policies) a Python repr."""
    if isinstance(doc, dict):
        return doc
    text = unquote(doc)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


class Checker:
    def __init__(self, endpoint: str) -> None:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
        }.items():
            os.environ.setdefault(key, value)
        self.endpoint = endpoint
        self.failures: list[str] = []
        self.passes = 0
        self._config = Config(retries={"max_attempts": 2}, connect_timeout=10, read_timeout=120)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            config=self._config)

    def check(self, cond: bool, what: str) -> bool:
        if cond:
            self.passes += 1
            print(f"  ok   {what}")
        else:
            self.failures.append(what)
            print(f"  FAIL {what}")
        return cond

    # ------------------------------------------------------------------ helpers
    def create_stack(self, name: str, template: str, params: dict[str, str]) -> dict[str, Any] | None:
        cfn = self.client("cloudformation")
        body = (ROOT / "charts" / template).read_text()
        try:
            cfn.create_stack(
                StackName=name, TemplateBody=body,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            )
        except Exception as exc:  # noqa: BLE001 - reported as a failure
            self.check(False, f"{name}: CreateStack accepted ({exc})")
            return None
        deadline = time.monotonic() + 120
        stack: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS"):
                break
            time.sleep(0.5)
        status = stack.get("StackStatus")
        if not self.check(status == "CREATE_COMPLETE", f"{name}: status {status}"):
            for event in cfn.describe_stack_events(StackName=name)["StackEvents"][:10]:
                print(f"       {event.get('LogicalResourceId')} {event.get('ResourceStatus')} "
                      f"{event.get('ResourceStatusReason', '')}")
            return None
        resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
        print(f"  info {name}: {len(resources)} resources in moto")
        return stack

    def outputs(self, name: str, stack: dict[str, Any], expected: list[str]) -> dict[str, str]:
        outs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        for key in expected:
            self.check(bool(outs.get(key)), f"{name}: output {key} = {outs.get(key)!r}")
        return outs

    # ------------------------------------------------------------------ chat stack
    def check_chat_stack(self, name: str, project: str, params: dict[str, str],
                         https: bool, pull_through: bool) -> dict[str, str] | None:
        print(f"== {name} ({'https' if https else 'http-only'}, "
              f"{'pull-through' if pull_through else 'nat'})")
        stack = self.create_stack(name, "stack.yaml", {"ProjectName": project, **params})
        if stack is None:
            return None
        outs = self.outputs(name, stack, STACK_OUTPUTS)
        self.check(outs.get("ListenerMode", "").startswith("https" if https else "http-only"),
                   f"{name}: ListenerMode matches certificate")
        self.check(outs.get("ALBEndpoint", "").startswith("https://" if https else "http://"),
                   f"{name}: ALBEndpoint scheme")
        self.check(outs.get("ConfigObjectKey") == "litellm/config.yaml", f"{name}: ConfigObjectKey")

        # Secrets Manager
        sm = self.client("secretsmanager")
        secrets = {s["Name"]: s for s in sm.list_secrets(MaxResults=100)["SecretList"]}
        for suffix in ("litellm-master-key", "litellm-master-key-seed", "openwebui-secret-key"):
            self.check(f"{project}/{suffix}" in secrets, f"{name}: secret {project}/{suffix} listed")
        if f"{project}/litellm-master-key" in secrets:
            key = sm.get_secret_value(SecretId=f"{project}/litellm-master-key")["SecretString"]
            self.check(key.startswith("sk-") and len(key) == 51 and "{{" not in key,
                       f"{name}: master key is sk- + 48 generated characters")

        # Cloud Map
        sd = self.client("servicediscovery")
        namespaces = {n["Name"]: n for n in sd.list_namespaces()["Namespaces"]}
        ns = namespaces.get(f"{project}.internal")
        self.check(ns is not None, f"{name}: Cloud Map namespace {project}.internal")
        services = [s for s in sd.list_services()["Services"] if s["Name"] == "litellm"]
        if ns is not None:
            services = [s for s in services
                        if sd.get_service(Id=s["Id"])["Service"].get("NamespaceId") == ns["Id"]]
        self.check(len(services) == 1, f"{name}: Cloud Map service litellm in the namespace")

        # AWS Backup
        vaults = [v["BackupVaultName"] for v in self.client("backup").list_backup_vaults()["BackupVaultList"]]
        self.check(outs.get("BackupVaultName") in vaults, f"{name}: backup vault listed")
        iam_role = outs.get("BackupRoleArn", "").split("/")[-1]
        if iam_role:
            attached = self.client("iam").list_attached_role_policies(RoleName=iam_role)["AttachedPolicies"]
            # moto 5.2.5 does not know the AWSBackupServiceRolePolicyFor* managed policies
            # and attaches nothing; report only.
            print(f"  info backup role attached policies in moto: {len(attached)}")

        # ECS
        ecs = self.client("ecs")
        cluster = outs.get("ClusterName", "")
        svc_names = [outs.get("OpenWebUIServiceName", ""), outs.get("LiteLLMServiceName", "")]
        described = ecs.describe_services(cluster=cluster, services=svc_names)
        found = {s["serviceName"]: s for s in described["services"]}
        for svc in svc_names:
            self.check(svc in found, f"{name}: ECS service {svc} described")
        # CreateServicesAtZero (default "true") creates the services at 0 tasks; with
        # "false" DesiredCount is absent and ECS starts 1 task, as AWS does.
        at_zero = params.get("CreateServicesAtZero", "true") == "true"
        want = 0 if at_zero else 1
        for svc, data in found.items():
            self.check(data.get("desiredCount") == want and data.get("launchType") == "FARGATE",
                       f"{name}: {svc} desiredCount={data.get('desiredCount')} "
                       f"launchType={data.get('launchType')} (CreateServicesAtZero="
                       f"{'true' if at_zero else 'false'}: {want})")
        lite = found.get(svc_names[1], {})
        self.check(bool(lite.get("serviceRegistries")), f"{name}: LiteLLM service registered in Cloud Map")
        if svc_names[1] in found:
            task_def = ecs.describe_task_definition(
                taskDefinition=found[svc_names[1]]["taskDefinition"])["taskDefinition"]
            container = task_def["containerDefinitions"][0]
            self.check(any(s["name"] == "LITELLM_MASTER_KEY" for s in container.get("secrets", [])),
                       f"{name}: LITELLM_MASTER_KEY via valueFrom")
            image = container["image"]
            expected_prefix = (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{project}-ghcr/"
                               if pull_through else "ghcr.io/")
            self.check(image.startswith(expected_prefix), f"{name}: LiteLLM image {image}")
        if svc_names[0] in found:
            task_def = ecs.describe_task_definition(
                taskDefinition=found[svc_names[0]]["taskDefinition"])["taskDefinition"]
            container = task_def["containerDefinitions"][0]
            secret_names = {s["name"] for s in container.get("secrets", [])}
            self.check({"OPENAI_API_KEY", "IMAGES_OPENAI_API_KEY", "WEBUI_SECRET_KEY"} <= secret_names
                       and "DATABASE_URL" not in secret_names,
                       f"{name}: Open WebUI secrets via valueFrom (no DATABASE_URL)")
            env = {e["name"]: e["value"] for e in container.get("environment", [])}
            self.check(env.get("OPENAI_API_BASE_URL") == f"http://litellm.{project}.internal:4000/v1",
                       f"{name}: OPENAI_API_BASE_URL points at Cloud Map")
            self.check(not any("arn:aws:secretsmanager" in v for v in env.values()),
                       f"{name}: no secret ARN in plain environment")

        # EFS, S3, ALB, alarms
        efs = self.client("efs")
        fs_id = outs.get("FileSystemId", "")
        file_systems = efs.describe_file_systems()["FileSystems"]
        fs = [f for f in file_systems if f["FileSystemId"] == fs_id]
        self.check(bool(fs) and fs[0].get("Encrypted") is True, f"{name}: EFS {fs_id} exists, encrypted")
        aps = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"] if fs else []
        self.check(len(aps) == 1, f"{name}: EFS access point")
        s3 = self.client("s3")
        bucket = outs.get("ConfigBucketName", "")
        try:
            s3.head_bucket(Bucket=bucket)
            policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
            self.check("aws:SecureTransport" in policy, f"{name}: bucket {bucket} with TLS-only policy")
        except Exception as exc:  # noqa: BLE001
            self.check(False, f"{name}: bucket {bucket} ({exc})")
        elb = self.client("elbv2")
        lbs = [lb for lb in elb.describe_load_balancers()["LoadBalancers"]
               if outs.get("ALBEndpoint", "").endswith(lb["DNSName"])]
        if self.check(len(lbs) == 1, f"{name}: load balancer"):
            listeners = elb.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]
            ports = sorted(listener["Port"] for listener in listeners)
            self.check(ports == ([80, 443] if https else [80]), f"{name}: listener ports {ports}")
            http = [listener for listener in listeners if listener["Port"] == 80]
            if http:
                action = http[0]["DefaultActions"][0]["Type"]
                self.check(action == ("redirect" if https else "forward"), f"{name}: port 80 {action}")
            tls = [listener for listener in listeners if listener["Port"] == 443]
            if tls:
                self.check(tls[0].get("SslPolicy") == "ELBSecurityPolicy-TLS13-1-2-2021-06",
                           f"{name}: TLS 1.3 policy")
        alarms = [a["AlarmName"] for a in self.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=f"{project}-")["MetricAlarms"]]
        self.check(len(alarms) == 7, f"{name}: {len(alarms)} CloudWatch alarms")
        return outs

    # ------------------------------------------------------------------ operator stack
    def check_operator_stack(self) -> None:
        name = "bedrock-chat-operator"
        print(f"== {name}")
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24",
                              AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
            for i, az in ((1, "a"), (2, "b"))
        ]
        stack = self.create_stack(name, "operator.yaml", {
            "OperatorImage": "ghcr.io/example/bedrock-chat-operator:v0.1.0",
            "GitUrl": "https://github.com/example/desired-state.git",
            "VpcId": vpc,
            "SubnetIds": ",".join(subnets),
            "MetricsIngressCidr": "10.42.0.0/16",
        })
        if stack is None:
            return
        outs = self.outputs(name, stack, OPERATOR_OUTPUTS)
        iam = self.client("iam")
        role = outs.get("TaskRoleArn", "").split("/")[-1]
        if role:
            names = iam.list_role_policies(RoleName=role)["PolicyNames"]
            docs = [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]
            docs = [_policy_doc(d) for d in docs]
            actions = [a for d in docs for s in d["Statement"]
                       for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
            self.check(bool(actions) and "*" not in actions and not any(a.endswith(":*") for a in actions),
                       f"{name}: task role has {len(actions)} explicit actions, none wildcard")

    # ------------------------------------------------------------------ deletion
    def check_delete_retains_efs(self, name: str, outs: dict[str, str]) -> None:
        print(f"== delete {name}")
        cfn = self.client("cloudformation")
        try:
            cfn.delete_stack(StackName=name)
        except Exception as exc:  # noqa: BLE001
            self.check(False, f"{name}: DeleteStack ({exc})")
        deadline = time.monotonic() + 60
        status = "?"
        while time.monotonic() < deadline:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"] if self._exists(cfn, name) else []
            status = stacks[0]["StackStatus"] if stacks else "GONE"
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(0.5)
        self.check(status in ("DELETE_COMPLETE", "GONE"), f"{name}: delete status {status}")
        fs_ids = [f["FileSystemId"] for f in self.client("efs").describe_file_systems()["FileSystems"]]
        self.check(outs.get("FileSystemId") in fs_ids,
                   f"{name}: EFS {outs.get('FileSystemId')} retained after stack deletion")
        clusters = self.client("ecs").describe_clusters(clusters=[outs.get("ClusterName", "")])
        active = [c for c in clusters.get("clusters", []) if c.get("status") == "ACTIVE"]
        print(f"  info after delete: ECS cluster active={bool(active)} (deleted resources)")

    @staticmethod
    def _exists(cfn: Any, name: str) -> bool:
        try:
            cfn.describe_stacks(StackName=name)
            return True
        except Exception:  # noqa: BLE001 - moto answers ValidationError once gone
            return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    args = parser.parse_args()
    checker = Checker(args.endpoint)

    outs_http = checker.check_chat_stack("bedrock-image-chat", "bedrock-image-chat", {},
                                         https=False, pull_through=False)

    ghcr_secret = checker.client("secretsmanager").create_secret(
        Name="ecr-pullthroughcache/ghcr-check",
        SecretString='{"username":"example","accessToken":"ghp_example"}',
    )["ARN"]
    # moto's ELBv2 refuses a listener certificate it does not know, so the well-formed
    # ARN comes from moto's ACM (RequestCertificate) rather than being made up.
    cert_arn = checker.client("acm").request_certificate(
        DomainName="chat.example.com", ValidationMethod="DNS")["CertificateArn"]
    checker.check_chat_stack(
        "bedrock-image-chat-tls", "bedrock-image-chat-tls",
        {
            "ACMCertificateArn": cert_arn,
            "ImagePullMode": "pull-through",
            "GhcrCredentialSecretArn": ghcr_secret,
            "DomainName": "chat.example.com",
            "DeploymentSize": "medium",
            "CreateServicesAtZero": "false",
        },
        https=True, pull_through=True,
    )
    checker.check_operator_stack()
    if outs_http is not None:
        checker.check_delete_retains_efs("bedrock-image-chat", outs_http)

    total = checker.passes + len(checker.failures)
    if checker.failures:
        print(f"check_stacks: FAILED {len(checker.failures)} of {total} checks:")
        for failure in checker.failures:
            print(f"  - {failure}")
        return 1
    print(f"check_stacks: OK, {total} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
