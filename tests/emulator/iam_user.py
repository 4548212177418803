#!/usr/bin/env python3
"""A caller holding exactly the operator's task-role policies, then IAM enforced.

Deploys charts/operator.yaml on a moto server (the launcher's; IAM not yet enforced), so
that CloudFormation itself resolves the template's policies (prefix, region, account,
the service role's ARN), copies every policy of the stack's TaskRole (inline and
attached managed ones) onto a new IAM user, makes an access key, optionally a second
user whose copies lack the actions named with --drop, and finally switches moto to
enforce IAM for every request that follows (/moto-api/reset-auth with 0).

A third user, "admin" (every action), is what the tests read AWS with to check what
the operator did; it is the test's, never the operator's.

Prints one JSON line: {"AccessKeyId", "SecretAccessKey", "UserArn",
"CloudFormationRoleArn", "Admin": {...}, "Dropped": {"AccessKeyId", ...} | null}.
Usage: iam_user.py --endpoint URL [--drop ACTION ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"


def client(endpoint: str, service: str):  # noqa: ANN201 - boto3 clients are untyped
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def deploy_operator(endpoint: str) -> dict[str, str]:
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"]
               for i in (1, 2)]
    cfn = client(endpoint, "cloudformation")
    cfn.create_stack(
        StackName="bedrock-chat-operator",
        TemplateBody=(ROOT / "charts/operator.yaml").read_text(),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "OperatorImage", "ParameterValue": "registry.example.com/bco:1.0"},
            {"ParameterKey": "GitUrl", "ParameterValue": "https://git.example.com/desired.git"},
            {"ParameterKey": "VpcId", "ParameterValue": vpc},
            {"ParameterKey": "SubnetIds", "ParameterValue": ",".join(subnets)},
        ],
    )
    for _ in range(600):
        stack = cfn.describe_stacks(StackName="bedrock-chat-operator")["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SystemExit(f"operator stack: {stack['StackStatus']} {stack.get('StackStatusReason')}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def role_policies(endpoint: str, role_arn: str) -> dict[str, dict]:
    """Every policy document of the role, by name: inline ones and attached managed ones."""
    iam = client(endpoint, "iam")
    role = role_arn.rsplit("/", 1)[-1]
    docs = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        docs[f"inline-{name}"] = json.loads(doc) if isinstance(doc, str) else doc
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                         VersionId=policy["DefaultVersionId"])
        docs[f"managed-{attached['PolicyName']}"] = version["PolicyVersion"]["Document"]
    if not docs:
        raise SystemExit(f"{role_arn} has no policies")
    return docs


def without(doc: dict, drop: set[str]) -> dict:
    out = json.loads(json.dumps(doc))
    for stmt in out["Statement"]:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        stmt["Action"] = [a for a in actions if a not in drop] or ["sts:GetCallerIdentity"]
    return out


def user(endpoint: str, name: str, docs: dict[str, dict]) -> dict[str, str]:
    iam = client(endpoint, "iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for policy_name, doc in docs.items():
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=json.dumps(doc))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "UserArn": arn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--drop", action="append", default=[])
    args = parser.parse_args()
    outputs = deploy_operator(args.endpoint)
    docs = role_policies(args.endpoint, outputs["TaskRoleArn"])
    result = user(args.endpoint, "operator", docs)
    result["CloudFormationRoleArn"] = outputs["CloudFormationRoleArn"]
    result["Admin"] = user(args.endpoint, "admin", {"admin": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}})
    result["Dropped"] = None
    if args.drop:
        result["Dropped"] = user(args.endpoint, "operator-without",
                                 {k: without(v, set(args.drop)) for k, v in docs.items()})
    req = urllib.request.Request(f"{args.endpoint}/moto-api/reset-auth", data=b"0",
                                 headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - the local emulator
        r.read()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
