"""IAM evaluated as AWS evaluates it, for moto server's enforcement mode.

moto (INITIAL_NO_AUTH_ACTION_COUNT, /moto-api/reset-auth) checks a caller's identity
policies, but not as AWS does, in ways that would make a policy pass on moto and fail
on AWS, or the other way round:
- it checks every action but S3's against the resource "*", so a statement scoped to
  ARNs (arn:...:stack/bedrock-image-chat*/*) never matches: here each operation the
  operator calls is checked against the ARN AWS authorizes it on (the Service
  Authorization Reference's resource types, e.g. ExecuteChangeSet on the stack);
- it ignores conditions (a conditional Allow always allows) and treats a missing
  condition key as met; here StringEquals/Like, ArnEquals/Like, Bool and Null (and
  ...IfExists) are evaluated, a missing key fails its condition, as in IAM;
- it checks no implied permission: here CreateChangeSet/DeleteStack/
  ContinueUpdateRollback with a RoleARN also need iam:PassRole on it (PassedToService
  cloudformation.amazonaws.com), CreateBackupSelection iam:PassRole on its role
  (backup.amazonaws.com), and DetectStackDrift cloudformation:DetectStackResourceDrift;
- a '?' in a Resource pattern and NotResource work;
- it recomputes the signature of a REST-JSON GET with the request headers as body, so
  every such call (Backup, Bedrock, EFS reads) failed with SignatureDoesNotMatch;
- an access-denied answer to a JSON-protocol call is the JSON error AWS sends
  (AccessDeniedException), with the resource, not moto's XML.
An operation not in the table below is checked against "*", so a policy that scopes it
fails here: add the operation rather than loosening the policy.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError, _RESTError


class AccessDeniedJson(JsonRESTError):
    code = 403

    def __init__(self, message: str) -> None:
        super().__init__("AccessDeniedException", message)


class AccessDeniedXml(_RESTError):
    """The query protocol's error document (ErrorResponse/Error), as CloudFormation sends
    it; moto's own wraps the error in <Errors>, which AWS SDKs do not parse."""

    code = 403

    def __init__(self, message: str) -> None:
        super().__init__("AccessDenied", message)
        from xml.sax.saxutils import escape

        self.description = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        )


# ------------------------------------------------------------------ the request's ARNs
def _first(v: Any) -> Any:
    return v[0] if isinstance(v, list) and v else v


class Request:
    """What the check needs of one request: its action, parameters and account."""

    def __init__(self, req: Any) -> None:
        self.req = req
        self.service, self.operation = req._action.split(":", 1)
        self.region = req._region
        self.account = req.account_id
        self.params: dict[str, Any] = {}
        body = req._body or b""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if body.strip().startswith("{"):
            try:
                self.params = json.loads(body)
            except ValueError:
                self.params = {}
        elif isinstance(req._data, dict):
            self.params = {k: _first(v) for k, v in req._data.items()}
        self.path = unquote(req._path.split("?", 1)[0])

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"

    # CloudFormation authorizes stack operations on the stack's ARN; a stack that does not
    # exist yet is matched as stack/NAME/* (AWS's AccessDenied messages name it so).
    def stack(self, name: str | None) -> str:
        name = name or ""
        if name.startswith("arn:"):
            return name
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[self.account][self.region]
        for s in backend.stacks.values():
            if s.name == name:
                return s.stack_id
        return self.arn("cloudformation", f"stack/{name}/*")

    def ecs_service(self, cluster: str | None, service: str) -> str:
        if service.startswith("arn:"):
            return service
        cluster = (cluster or "default").split("/")[-1]
        return self.arn("ecs", f"service/{cluster}/{service}")

    def scalable_target(self) -> str:
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        backend = applicationautoscaling_backends[self.account][self.region]
        dim, rid = self.params.get("ScalableDimension"), self.params.get("ResourceId")
        target = backend.targets.get(dim, {}).get(rid)
        # A target not registered yet has no id; any scalable-target ARN stands for it.
        return target.arn if target else self.arn("application-autoscaling", "scalable-target/new")


def _cfn(r: Request) -> list[tuple[str, str, dict[str, str]]]:
    p, op = r.params, r.operation
    if op in ("DescribeStackDriftDetectionStatus", "ListStacks", "ValidateTemplate"):
        return [(op, "*", {})]
    stack = r.stack(p.get("StackName"))
    if op in ("DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet") and "StackName" not in p:
        from moto.cloudformation.models import cloudformation_backends

        cs = cloudformation_backends[r.account][r.region].change_sets.get(p.get("ChangeSetName", ""))
        stack = cs.stack_id if cs is not None else stack
    context = {}
    if p.get("RoleARN"):
        context["cloudformation:RoleArn"] = p["RoleARN"]
    checks = [(f"cloudformation:{op}", stack, context)]
    if op in ("CreateChangeSet", "DeleteStack", "ContinueUpdateRollback", "CreateStack", "UpdateStack") and p.get("RoleARN"):
        checks.append(("iam:PassRole", p["RoleARN"], {"iam:PassedToService": "cloudformation.amazonaws.com"}))
    if op == "DetectStackDrift":
        checks.append(("cloudformation:DetectStackResourceDrift", stack, {}))
    return [(a if ":" in a else f"cloudformation:{a}", res, ctx) for a, res, ctx in checks]


def _ecs(r: Request) -> list[tuple[str, str, dict[str, str]]]:
    p, op = r.params, r.operation
    action = f"ecs:{op}"
    if op == "DescribeServices":
        return [(action, r.ecs_service(p.get("cluster"), s), {}) for s in p.get("services", [])]
    if op == "UpdateService":
        return [(action, r.ecs_service(p.get("cluster"), p.get("service", "")), {})]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(action, p.get("resourceArn", "*"), {})]
    if op in ("ListTasks", "DescribeTasks"):
        # ListTasks has no resource of its own (Service Authorization Reference): "*"
        # with the ecs:cluster condition key; DescribeTasks names each task.
        cluster = (p.get("cluster") or "default").split("/")[-1]
        context = {"ecs:cluster": r.arn("ecs", f"cluster/{cluster}")}
        if op == "ListTasks":
            return [(action, "*", context)]
        return [(action, t if t.startswith("arn:") else r.arn("ecs", f"task/{cluster}/{t}"), context)
                for t in p.get("tasks", [])]
    if op == "DescribeClusters":
        return [(action, c if c.startswith("arn:") else r.arn("ecs", f"cluster/{c}"), {})
                for c in p.get("clusters", ["default"])]
    return [(action, "*", {})]


def _autoscaling(r: Request) -> list[tuple[str, str, dict[str, str]]]:
    op = r.operation
    action = f"application-autoscaling:{op}"
    if op in ("RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy",
              "DeleteScalingPolicy"):
        return [(action, r.scalable_target(), {})]
    return [(action, "*", {})]


def _backup(r: Request) -> list[tuple[str, str, dict[str, str]]]:
    op, path = r.operation, r.path
    action = f"backup:{op}"
    m = re.match(r"^/backup/plans/([^/]+)", path)
    if op in ("ListTags", "TagResource", "UntagResource"):
        return [(action, path.split("/tags/", 1)[-1].rstrip("/"), {})]
    if op == "CreateBackupPlan":
        return [(action, r.arn("backup", "backup-plan:*"), {})]
    if m:
        checks = [(action, r.arn("backup", f"backup-plan:{m.group(1)}"), {})]
        role = (r.params.get("BackupSelection") or {}).get("IamRoleArn")
        if op == "CreateBackupSelection" and role:
            checks.append(("iam:PassRole", role, {"iam:PassedToService": "backup.amazonaws.com"}))
        return checks
    return [(action, "*", {})]


def _dynamodb(r: Request) -> list[tuple[str, str, dict[str, str]]]:
    table = r.params.get("TableName")
    res = r.arn("dynamodb", f"table/{table}") if table else "*"
    return [(f"dynamodb:{r.operation}", res, {})]


RESOLVERS = {
    "cloudformation": _cfn,
    "ecs": _ecs,
    "application-autoscaling": _autoscaling,
    "backup": _backup,
    "dynamodb": _dynamodb,
}


# ------------------------------------------------------------------ policy evaluation
def _matches(pattern: str, value: str, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _listed(v: Any) -> list[str]:
    return v if isinstance(v, list) else [v]


def _condition(cond: dict[str, Any] | None, context: dict[str, str]) -> bool:
    values = {k.lower(): v for k, v in context.items()}
    for operator, pairs in (cond or {}).items():
        if_exists = operator.endswith("IfExists")
        op = operator.removesuffix("IfExists")
        for key, wanted in pairs.items():
            have = values.get(key.lower())
            wanted = [str(w) for w in _listed(wanted)]
            if op == "Null":
                if (have is None) != (wanted[0].lower() == "true"):
                    return False
                continue
            if have is None:
                if if_exists:
                    continue
                return False
            if op in ("StringEquals", "ArnEquals"):
                ok = have in wanted
            elif op in ("StringLike", "ArnLike"):
                ok = any(_matches(w, have, True) for w in wanted)
            elif op == "StringNotEquals":
                ok = have not in wanted
            elif op == "Bool":
                ok = have.lower() in [w.lower() for w in wanted]
            else:
                return False  # an operator not modelled never grants
            if not ok:
                return False
    return True


def statement_result(stmt: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> str:
    """"Allow", "Deny" or "" (the statement does not apply)."""
    if "NotAction" in stmt:
        if any(_matches(a, action, False) for a in _listed(stmt["NotAction"])):
            return ""
    elif not any(_matches(a, action, False) for a in _listed(stmt.get("Action", []))):
        return ""
    if "NotResource" in stmt:
        if any(_matches(p, resource, True) for p in _listed(stmt["NotResource"])):
            return ""
    elif not any(p == "*" or _matches(p, resource, True) for p in _listed(stmt.get("Resource", []))):
        return ""
    if not _condition(stmt.get("Condition"), context):
        return ""
    return stmt.get("Effect", "")


def install() -> None:
    from moto.iam.access_control import IAMPolicyStatement, IAMRequest, IAMRequestBase, PermissionResult

    create_request = IAMRequestBase._create_aws_request

    def _create_aws_request(self: Any) -> Any:
        # Sign what was sent: a GET/DELETE without a body was signed with an empty
        # payload (moto's form-encoded POSTs keep their form in _data: left alone).
        saved = self._data
        if not self._body and self._method in ("GET", "HEAD", "DELETE"):
            self._data = b""
        try:
            return create_request(self)
        finally:
            self._data = saved

    IAMRequestBase._create_aws_request = _create_aws_request

    # A form-encoded POST (the query protocol: CloudFormation, IAM) reaches moto's
    # handler with its body already parsed into a form, and moto re-encodes that form
    # to check the signature: bytes that match what botocore sent, not what every other
    # SDK sends. Keep the bytes as they arrived and sign those.
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.responses import BaseResponse

    setup = BaseResponse.setup_class

    def setup_class(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            raw = request.get_data(cache=True)
        except Exception:  # noqa: BLE001 - a request without a readable body
            raw = b""
        result = setup(self, request, *args, **kwargs)
        self._bco_raw_body = raw
        return result

    BaseResponse.setup_class = setup_class
    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        raw = getattr(self, "_bco_raw_body", b"")
        if self.raw_body or not raw:
            return authorize(self, iam_request_cls, resource)
        saved, self.raw_body = self.raw_body, raw
        try:
            return authorize(self, iam_request_cls, resource)
        finally:
            self.raw_body = saved

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action

    def is_action_permitted(self: Any, action: str, resource: str = "*", principal: Any = None,
                            incoming_condition_values: dict[str, str] | None = None) -> Any:
        del principal
        result = statement_result(self._statement, action, resource, incoming_condition_values or {})
        return {"Allow": PermissionResult.PERMITTED, "Deny": PermissionResult.DENIED}.get(
            result, PermissionResult.NEUTRAL)

    IAMPolicyStatement.is_action_permitted = is_action_permitted

    check = IAMRequest.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        request = Request(self)
        resolver = RESOLVERS.get(request.service)
        if resolver is None or self._action == "sts:GetCallerIdentity":
            return check(self, resource)
        from moto.iam.access_control import IAMPolicy

        policies = self._access_key.collect_policies()
        # An operation that names no resource AWS would authorize is checked on "*".
        checks = resolver(request) or [(self._action, "*", {})]
        for action, arn, context in checks:
            allowed = False
            for policy in policies:
                result = IAMPolicy(policy).is_action_permitted(action, arn, None, context)
                if result == PermissionResult.DENIED:
                    allowed = False
                    break
                allowed = allowed or result == PermissionResult.PERMITTED
            if not allowed:
                message = (f"User: {self._access_key.arn} is not authorized to perform: "
                           f"{action} on resource: {arn}")
                json_protocol = "X-Amz-Target" in self._headers or request.service in ("backup", "bedrock")
                raise AccessDeniedJson(message) if json_protocol else AccessDeniedXml(message)
        return None

    IAMRequest.check_action_permitted = check_action_permitted
