"""ECS deployments and load-balancer targets as ECS keeps them (moto_launcher.py).

moto sets a service's deployment once, at create, and never again: after UpdateService
with a new task definition its PRIMARY deployment still names the old one, its counts
stay those of the create, and its rollout stays IN_PROGRESS (or COMPLETED) for ever.
ECS starts a new PRIMARY deployment for a new task definition or forceNewDeployment,
counts its tasks, and marks its rolloutState COMPLETED once it reaches a steady state
(DescribeServices API reference, Deployment.status and rolloutState). The operator's
health reads judge the rollout from these fields, so they must move as on AWS.

moto's ECS never registers a task with its service's target group; ECS registers each
running task of a service with `loadBalancers` (ECS developer guide, "Use load
balancing to distribute Amazon ECS service traffic"). Here a service's running tasks
are registered as IP targets (10.x.y.z on the container port), and deregistered when it
runs fewer, so DescribeTargetHealth answers as it would on AWS. moto reports every
registered target healthy: a failing health check is not modelled.

moto's RegisterScalableTarget records the range and leaves the service's count alone;
AWS "changes the resource's current capacity to a value that is inside of this range"
(RegisterScalableTarget API reference). Here an ECS service's desired count is brought
into the range when its scalable target is registered, as on AWS.
"""

from __future__ import annotations

import zlib
from typing import Any


def _targets_of(service: Any) -> list[dict[str, Any]]:
    """Stable IPs for the service's running tasks (one /24 per service name)."""
    net = zlib.crc32(service.name.encode()) % 250
    n = int(service.running_count or 0)
    return [{"Id": f"10.{net}.{i // 250}.{i % 250 + 4}"} for i in range(n)]


def _sync(backend: Any, service: Any, previous_td: str | None) -> None:
    from moto.elbv2.models import elbv2_backends
    from moto.moto_api._internal import mock_random
    from moto.core.utils import utcnow

    if service.deployments:
        primary = service.deployments[0]
        if previous_td is not None and previous_td != service.task_definition:
            # A new task definition is a new deployment, as ECS starts one.
            primary["id"] = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            primary["createdAt"] = utcnow()
        running = int(service.running_count or 0)
        desired = int(service.desired_count or 0)
        done = running >= desired
        primary["taskDefinition"] = service.task_definition
        primary["desiredCount"] = desired
        primary["runningCount"] = running
        primary["pendingCount"] = max(0, desired - running)
        primary["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} {'completed' if done else 'in progress'}."
        primary["updatedAt"] = utcnow()
    elb = elbv2_backends[backend.account_id][backend.region_name]
    for lb in service.load_balancers or []:
        arn = lb.get("targetGroupArn") or lb.get("TargetGroupArn")
        port = lb.get("containerPort") or lb.get("ContainerPort")
        group = elb.target_groups.get(arn) if arn else None
        if group is None:
            continue
        want = {t["Id"] for t in _targets_of(service)}
        mine = f"10.{zlib.crc32(service.name.encode()) % 250}."
        for target_id in [t for t in group.targets if t.startswith(mine) and t not in want]:
            group.deregister([{"Id": target_id}])
        new = [{"Id": i, "Port": int(port or group.port or 80)} for i in sorted(want) if i not in group.targets]
        if new:
            group.register(new)
            for t in new:
                group.deregistered_targets.pop(t["Id"], None)


def _scalable_targets_clamp_the_count() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.ecs.models import ecs_backends

    register = ApplicationAutoscalingBackend.register_scalable_target

    def register_scalable_target(self: Any, namespace: str, r_id: str, dimension: str,
                                 min_capacity: Any, max_capacity: Any, *args: Any, **kwargs: Any) -> Any:
        target = register(self, namespace, r_id, dimension, min_capacity, max_capacity, *args, **kwargs)
        if namespace == "ecs" and dimension == "ecs:service:DesiredCount":
            _, cluster, name = r_id.split("/", 2)
            ecs = ecs_backends[self.account_id][self.region_name]
            service = ecs.services.get(f"{cluster}:{name}")
            if service is not None:
                count = int(service.desired_count or 0)
                clamped = min(max(count, int(target.min_capacity)), int(target.max_capacity))
                if clamped != count:
                    ecs.update_service({"cluster": cluster, "service": name, "desired_count": clamped})
        return target

    ApplicationAutoscalingBackend.register_scalable_target = register_scalable_target


def install() -> None:
    _scalable_targets_clamp_the_count()
    from moto.ecs.models import EC2ContainerServiceBackend

    create = EC2ContainerServiceBackend.create_service
    update = EC2ContainerServiceBackend.update_service
    delete = EC2ContainerServiceBackend.delete_service

    def create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = create(self, *args, **kwargs)
        _sync(self, service, None)
        return service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        name = str(service_properties.get("service", "")).split("/")[-1]
        cluster = str(service_properties.get("cluster", "default")).split("/")[-1]
        before = self.services.get(f"{cluster}:{name}")
        previous = before.task_definition if before is not None else None
        service = update(self, service_properties)
        _sync(self, service, previous)
        return service

    def delete_service(self: Any, *args: Any, **kwargs: Any) -> Any:
        service = delete(self, *args, **kwargs)
        service.running_count = 0
        _sync(self, service, None)
        return service

    EC2ContainerServiceBackend.create_service = create_service
    EC2ContainerServiceBackend.update_service = update_service
    EC2ContainerServiceBackend.delete_service = delete_service
