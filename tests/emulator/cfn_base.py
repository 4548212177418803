"""Shared pieces of the launcher's CloudFormation models and completions: the model
base (moto's parser sees only *direct* subclasses of CloudFormationModel, so each model
names it as a base beside this mixin), and small helpers."""

from __future__ import annotations

from typing import Any


__all__ = ["_LauncherModel", "_add_cfn_attributes", "_camel", "_props", "_unknown_attr"]


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


def _unknown_attr(resource: str, attr: str) -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    del resource, attr
    return UnformattedGetAttTemplateException()


class _LauncherModel:
    """Shared defaults, mixed in before CloudFormationModel. moto's parser only sees
    *direct* subclasses of CloudFormationModel, so every registered model below names
    CloudFormationModel as a direct base."""

    ATTRIBUTES: dict[str, str] = {}
    # Each model names its resource type, its name property and the attribute that is
    # its physical id (what Ref returns); moto asks the class for the first two.
    CFN_TYPE = "Launcher::Internal::Base"
    CFN_NAME_TYPE = ""
    PHYSICAL_ID = ""

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.CFN_NAME_TYPE

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @property
    def physical_resource_id(self) -> str:
        return str(getattr(self, self.PHYSICAL_ID))

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            raise _unknown_attr(type(self).__name__, attribute_name)
        return getattr(self, self.ATTRIBUTES[attribute_name])

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Default: replace (create the new one, then delete the old one), as CloudFormation
        # does for a replacement update.
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

