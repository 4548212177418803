"""Shared pieces of the launcher's CloudFormation models and completions: the table
mechanism (`Resource` rows, turned into moto model classes by `model`), and small
helpers."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Callable


__all__ = ["Resource", "model", "_add_cfn_attributes", "_camel", "_props", "_unknown_attr"]


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


def _unknown_attr(resource: str, attr: str) -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    del resource, attr
    return UnformattedGetAttTemplateException()


@dataclass(frozen=True)
class Resource:
    """One resource type the launcher adds to moto's CloudFormation: a row of the table
    that `model` turns into the class moto's parser wants. The callables work on a plain
    `state` dict (what CloudFormation would know of the resource):

    - `create(props, logical_name, account, region) -> state`
    - `delete(state, account, region)`
    - `update(state, props, account, region) -> state`, or `None` to replace the resource
      (create the new one, then delete the old one when its physical id changed), which
      is also what happens without `update`."""

    cfn_type: str
    service: str
    physical_id: str
    create: Callable[[dict[str, Any], str, str, str], dict[str, Any]]
    delete: Callable[[dict[str, Any], str, str], None]
    attributes: dict[str, str] = field(default_factory=dict)
    name_type: str = ""
    update: Callable[[dict[str, Any], dict[str, Any], str, str], dict[str, Any] | None] | None = None


class _LauncherModel:
    """What every added model shares; `model` puts it beside CloudFormationModel (moto's
    parser only sees *direct* subclasses of CloudFormationModel)."""

    RESOURCE: Resource

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __getattr__(self, key: str) -> Any:
        # moto reads a few attributes of a resource by name (its name, its arn).
        state = self.__dict__.get("state", {})
        if key in state:
            return state[key]
        raise AttributeError(key)

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.RESOURCE.name_type

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.RESOURCE.cfn_type

    @property
    def physical_resource_id(self) -> str:
        return str(self.state[self.RESOURCE.physical_id])

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.RESOURCE.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.RESOURCE.attributes:
            raise _unknown_attr(type(self).__name__, attribute_name)
        return self.state[self.RESOURCE.attributes[attribute_name]]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        del kwargs
        return cls(cls.RESOURCE.create(_props(cloudformation_json), resource_name, account_id, region_name))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        if cls.RESOURCE.update is not None:
            state = cls.RESOURCE.update(
                original_resource.state, _props(cloudformation_json), account_id, region_name
            )
            if state is not None:
                original_resource.state = state
                return original_resource
        # A replacement, as CloudFormation does it: the new one first, then the old one.
        new = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        if new.physical_resource_id != original_resource.physical_resource_id:
            original_resource.delete(account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        del resource_name, cloudformation_json, account_id, region_name

    def delete(self, account_id: str, region_name: str) -> None:
        self.RESOURCE.delete(self.state, account_id, region_name)


def model(resource: Resource) -> type:
    """The moto model class of one table row, filed under "moto.<service>" (moto's model
    metaclass files a class by its module)."""
    from moto.core.common_models import CloudFormationModel

    name = "Cfn" + resource.cfn_type.replace("AWS::", "").replace("::", "")

    def body(ns: dict[str, Any]) -> None:
        ns["__module__"] = f"moto.{resource.service}.launcher_models"
        ns["RESOURCE"] = resource

    return types.new_class(name, (_LauncherModel, CloudFormationModel), exec_body=body)


def _add_cfn_attributes(cls: Any, attrs: dict[str, Any]) -> None:
    """Give an existing moto model the Fn::GetAtt attributes CloudFormation has."""
    known = dict(attrs)
    previous = getattr(cls, "get_cfn_attribute", None)

    def get_cfn_attribute(self: Any, name: str) -> Any:
        if name in known:
            return known[name](self)
        if previous is not None:
            return previous(self, name)
        raise _unknown_attr(cls.__name__, name)

    previous_has = getattr(cls, "has_cfn_attr", None)

    def has_cfn_attr(klass: Any, attr: str) -> bool:
        return attr in known or bool(previous_has and previous_has(attr))

    cls.get_cfn_attribute = get_cfn_attribute
    cls.has_cfn_attr = classmethod(has_cfn_attr)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property shapes -> the ECS API's camelCase shapes."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value

