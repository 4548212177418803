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
ECS service follows its new task definition revision); a change set lists what a
parameter-only update touches, with CloudFormation's Replacement (True / Conditional /
False, from the create-only properties of cfn-lint's copy of AWS's resource provider
schemas) and Scope (cfn_change_sets.py); a service's PRIMARY deployment
follows its task definition and counts, and its running tasks are registered with its
target group (ecs_deployments.py); and, when BCO_ECS_TASKS is set,
ECS tasks really start (ecs_tasks.py): the real LiteLLM process from the deployed task
definition, at the moment a task is due.

Usage: python tests/emulator/moto_launcher.py [--host 127.0.0.1] [--port 5000]
Prints exactly one line "moto listening on http://HOST:PORT" once the server accepts
connections, then serves until SIGTERM/SIGINT (exit status 0).  --port 0 picks a
free port.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time
from typing import Any

# Import every service whose backend the models use, and every service with built-in
# CloudFormation models the charts need, *before* the parser's model map is first built
# (it is cached; install() clears it).
from moto.cloudformation import parsing
from moto.logs import models as logs_models  # noqa: F401  (AWS::Logs::LogGroup)

# The launcher's own modules, beside it (sys.path[0] is this folder).
import cfn_change_sets
import cfn_completions
import cfn_models
import cfn_models_network
import ecs_deployments
import ecs_tasks
import iam_like_aws
import service_completions

__all__ = ["install", "main"]

ADDED_TYPES = [m.cloudformation_type() for m in cfn_models.MODELS + cfn_models_network.MODELS]


def install() -> list[str]:
    """Complete moto's CloudFormation engine; returns the resource types added."""
    cfn_completions._complete_existing_models()
    cfn_completions._add_update_termination_protection()
    cfn_completions._complete_change_set_execution()
    cfn_change_sets.install()
    iam_like_aws.install()
    ecs_deployments.install()
    service_completions._backup_list_tags_without_trailing_slash()
    service_completions._backup_plan_name_free_after_delete()
    service_completions._retries_are_idempotent()
    service_completions._dynamodb_tables_are_creating_at_first()
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
