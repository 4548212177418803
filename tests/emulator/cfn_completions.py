"""Completions of moto's own CloudFormation models and engine where AWS behaves
otherwise and the product depends on it: ECS services and task definitions, dependents
of replaced resources, IAM roles, NoValue list items, route deletion, Ref/GetAtt values,
UpdateTerminationProtection, and what executing a change set updates."""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

from moto.cloudformation import parsing
from moto.ec2 import models as ec2_models
from moto.ecs import models as ecs_models
from moto.efs import models as efs_models
from moto.elbv2 import models as elbv2_models

from cfn_base import _add_cfn_attributes, _camel, _unknown_attr


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
    (an update whose resolved properties changed registers a new revision, as
    CloudFormation does; one that changed nothing keeps the task definition)."""
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    td_cls = ecs_models.TaskDefinition

    def register(props: dict[str, Any], account_id: str, region_name: str) -> Any:
        camel = lambda v: remap_nested_keys(v, pascal_to_camelcase)  # noqa: E731
        backend = ecs_models.ecs_backends[account_id][region_name]
        td = backend.register_task_definition(
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
        td.bco_properties = json.dumps(props, sort_keys=True, default=str)
        return td

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        del cls, resource_name, kwargs
        return register(cloudformation_json["Properties"], account_id, region_name)

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str) -> Any:
        del cls, new_resource_name
        props = cloudformation_json["Properties"]
        # Resolved properties unchanged (a dependency was updated in place): CloudFormation
        # leaves the task definition alone, and so the service's deployment.
        if getattr(original_resource, "bco_properties", None) == json.dumps(props, sort_keys=True, default=str):
            return original_resource
        new = register(props, account_id, region_name)
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
    _list_parameters_read_back_as_given()
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


def _list_parameters_read_back_as_given() -> None:
    """DescribeStacks returns a CommaDelimitedList parameter as the comma-separated string
    it was given; moto returned the Python repr of the list it split it into, so every
    such parameter looked changed on the next plan."""
    from moto.cloudformation import models as cfn_models

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        hidden = self.resource_map.no_echo_parameter_keys
        return [
            {
                "ParameterKey": k,
                "ParameterValue": "****" if k in hidden
                else ",".join(map(str, v)) if isinstance(v, list) else v,
            }
            for k, v in self.resource_map.resolved_parameters.items()
        ]

    cfn_models.Stack.parameter_list = property(parameter_list)


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


