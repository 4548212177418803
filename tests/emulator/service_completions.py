"""Completions of moto's service APIs: DynamoDB tables CREATING at first, Backup's
ListTags path, plan names free after delete, and retries made idempotent by their
client tokens, as AWS makes them."""

from __future__ import annotations

import json
import time
from typing import Any


def _backup_list_tags_without_trailing_slash() -> None:
    """moto's Backup ListTags takes the ARN as the path's second-to-last segment, which
    holds only for boto3's `/tags/<arn>/`; the Rust SDK sends `/tags/<arn>` and moto then
    looks up the tags of "tags". Read the ARN after `/tags/` either way."""
    from urllib.parse import unquote as _unquote

    from moto.backup.responses import BackupResponse

    def list_tags(self: Any) -> str:
        arn = _unquote(self.path.split("/tags/", 1)[1].split("?", 1)[0].rstrip("/"))
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})

    BackupResponse.list_tags = list_tags


def _backup_plan_name_free_after_delete() -> None:
    """moto keeps a deleted backup plan (with a deletion date) and still counts its name
    as taken; AWS Backup lets a new plan reuse the name of a deleted one. Leave deleted
    plans out of the name check."""
    from moto.backup.models import BackupBackend

    create = BackupBackend.create_backup_plan

    def create_backup_plan(self: Any, backup_plan: Any, backup_plan_tags: Any, creator_request_id: Any) -> Any:
        deleted = {k: p for k, p in self.plans.items() if p.deletion_date is not None}
        for k in deleted:
            del self.plans[k]
        try:
            return create(self, backup_plan, backup_plan_tags, creator_request_id)
        finally:
            self.plans.update(deleted)

    BackupBackend.create_backup_plan = create_backup_plan


def _retries_are_idempotent() -> None:
    """AWS makes a retried request safe; moto 5.2.5 repeats it. A client retries a
    request whose answer was lost (a reset connection), so these matter to the fault
    suite (tests/it/faults.rs):
    - CreateChangeSet: a change set name already used on the stack is refused
      (AlreadyExistsException), unless the request repeats the same ClientToken, which
      returns the change set made the first time; a CREATE change set for a stack left
      in REVIEW_IN_PROGRESS reuses that stack (moto made a second stack of that name);
    - ExecuteChangeSet: a change set no longer AVAILABLE is refused
      (InvalidChangeSetStatus), unless the request repeats the ClientRequestToken of the
      execution that worked (moto executed it again);
    - CreateBackupPlan: a repeated CreatorRequestId returns the plan it created (moto
      refused the name as taken)."""
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
    from moto.core.responses import ActionResult, EmptyResult

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatusException"

    backend_create = cfn_models.CloudFormationBackend.create_change_set

    def create_change_set(self: Any, stack_name: str, change_set_name: str, *args: Any, **kwargs: Any) -> Any:
        change_set_type = kwargs.get("change_set_type", "CREATE")
        waiting = None
        if change_set_type != "UPDATE":
            live = [s for s in self.stacks.values() if s.name == stack_name]
            if live and live[0].status != "REVIEW_IN_PROGRESS":
                raise ValidationError(
                    message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}]."
                )
            waiting = live[0] if live else None
        before = set(self.stacks)
        change_set_id, stack_id = backend_create(self, stack_name, change_set_name, *args, **kwargs)
        if waiting is not None:
            for made in set(self.stacks) - before:
                del self.stacks[made]
            change_set = self.change_sets[change_set_id]
            change_set.stack = waiting
            change_set.stack_id = waiting.stack_id
            stack_id = waiting.stack_id
        return change_set_id, stack_id

    cfn_models.CloudFormationBackend.create_change_set = create_change_set

    response_create = cfn_responses.CloudFormationResponse.create_change_set

    def create_change_set_response(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        stack_name = self._get_param("StackName")
        token = self._get_param("ClientToken")
        for cs in self.cloudformation_backend.change_sets.values():
            gone = cs.stack.status == "DELETE_COMPLETE"
            if cs.change_set_name == name and stack_name in (cs.stack_name, cs.stack_id) and not gone:
                if token and getattr(cs, "client_token", None) == token:
                    return ActionResult({"Id": cs.change_set_id, "StackId": cs.stack_id})
                raise AlreadyExistsException(f"ChangeSet {name} already exists")
        result = response_create(self)
        for cs in self.cloudformation_backend.change_sets.values():
            if cs.change_set_name == name and not hasattr(cs, "client_token"):
                cs.client_token = token
        return result

    cfn_responses.CloudFormationResponse.create_change_set = create_change_set_response

    response_execute = cfn_responses.CloudFormationResponse.execute_change_set

    def execute_change_set_response(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        token = self._get_param("ClientRequestToken")
        sets = self.cloudformation_backend.change_sets
        found = sets.get(name) or next((cs for cs in sets.values() if cs.change_set_name == name), None)
        if found is not None and found.execution_status != "AVAILABLE":
            if token and getattr(found, "execute_token", None) == token:
                return EmptyResult()
            raise InvalidChangeSetStatus(
                f"ChangeSet [{found.change_set_id}] cannot be executed in its current execution status of [{found.execution_status}]"
            )
        result = response_execute(self)
        if found is not None:
            found.execute_token = token
        return result

    cfn_responses.CloudFormationResponse.execute_change_set = execute_change_set_response

    from moto.backup.models import BackupBackend

    create_plan = BackupBackend.create_backup_plan

    def create_backup_plan(self: Any, backup_plan: Any, backup_plan_tags: Any, creator_request_id: Any) -> Any:
        if creator_request_id:
            for plan in self.plans.values():
                if plan.creator_request_id == creator_request_id and plan.deletion_date is None:
                    return plan
        return create_plan(self, backup_plan, backup_plan_tags, creator_request_id)

    BackupBackend.create_backup_plan = create_backup_plan


def _dynamodb_tables_are_creating_at_first() -> None:
    """DynamoDB's CreateTable "immediately returns a response with a TableStatus of
    CREATING ... You can perform read and write operations only on an ACTIVE table"
    (CreateTable API reference); moto's tables are ACTIVE at once. A new table here is
    CREATING for BCO_DYNAMODB_CREATING_SECONDS (default 1), and its items refuse reads
    and writes with ResourceNotFoundException meanwhile, as on AWS."""
    import os

    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    delay = float(os.environ.get("BCO_DYNAMODB_CREATING_SECONDS", "1"))
    create = DynamoDBBackend.create_table

    def create_table(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        table = create(self, name, *args, **kwargs)
        table.bco_active_at = time.monotonic() + delay
        return table

    DynamoDBBackend.create_table = create_table
    describe = Table.describe

    def describe_table(self: Any, base_key: str = "TableDescription") -> Any:
        out = describe(self, base_key=base_key)
        if time.monotonic() < getattr(self, "bco_active_at", 0.0):
            out[base_key]["TableStatus"] = "CREATING"
        return out

    Table.describe = describe_table

    def refuse_until_active(method: Any) -> Any:
        def wrapper(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            table = self.tables.get(table_name)
            if table is not None and time.monotonic() < getattr(table, "bco_active_at", 0.0):
                raise ResourceNotFoundException(table_name=table_name)
            return method(self, table_name, *args, **kwargs)

        return wrapper

    for name in ("put_item", "get_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, refuse_until_active(getattr(DynamoDBBackend, name)))
