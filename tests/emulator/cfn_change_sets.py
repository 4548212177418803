"""What a change set lists, as CloudFormation lists it.

moto computes a change set's Changes from the template alone (`build_change_set_actions`
calls `build_resource_diff` without the parameters), so an update that changes only
parameters - the operator's usual update - lists nothing, and no change carries
`Replacement` or `Scope`. CloudFormation lists every resource the update touches, with
`Replacement: True` when a property that requires replacement changes, `Conditional` when
such a property refers to a resource that is itself modified (its new value is known only
at run time), `False` otherwise (ResourceChange, CloudFormation API reference).

Which properties require replacement comes from AWS's own data: the resource provider
schemas cfn-lint ships (`createOnlyProperties`), not from a hand-written list. Only
top-level properties are compared, which is how the operator's template changes them.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from moto.cloudformation import models as cfn_models

from cfn_completions import _references


@lru_cache(maxsize=None)
def _create_only(region: str) -> dict[str, frozenset[str]]:
    """Resource type -> its top-level create-only properties, from cfn-lint's schemas."""
    import cfnlint

    base = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
    index_file = os.path.join(base, "providers", f"{region}.json")
    if not os.path.exists(index_file):
        index_file = os.path.join(base, "providers", "us-east-1.json")
    with open(index_file) as f:
        index = json.load(f)
    out: dict[str, frozenset[str]] = {}
    for rtype, digest in index.items():
        path = os.path.join(base, "resources", f"{digest}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            schema = json.load(f)
        out[rtype] = frozenset(
            p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") >= 2
        )
    return out


def _changed_inputs(rmap: Any, template: dict[str, Any], parameters: dict[str, Any]) -> set[str]:
    """Parameters whose value changes, and the conditions that refer to them."""
    changed = {p for p in parameters if rmap.input_parameters.get(p) != parameters[p]}
    for cond, body in (template.get("Conditions") or {}).items():
        if _references(body) & changed:
            changed.add(cond)
    return changed


def _replacement(rtype: str, old: dict[str, Any], new: dict[str, Any], inputs: set[str],
                 modified: set[str], region: str) -> tuple[str, list[str]]:
    """(Replacement, Scope) of one modified resource."""
    create_only = _create_only(region).get(rtype, frozenset())
    old_props = old.get("Properties") or {}
    new_props = new.get("Properties") or {}
    direct, dynamic = set(), set()
    for key in set(old_props) | set(new_props):
        value = new_props.get(key)
        refs = _references(value)
        if old_props.get(key) != value or refs & inputs:
            direct.add(key)
        elif refs & modified:
            dynamic.add(key)
    if (direct & create_only):
        replacement = "True"
    elif dynamic & create_only:
        replacement = "Conditional"
    else:
        replacement = "False"
    scope = []
    if (direct | dynamic) - {"Tags"}:
        scope.append("Properties")
    if "Tags" in direct | dynamic:
        scope.append("Tags")
    return replacement, scope


def _complete_change_set_changes() -> None:
    def diff(self: Any) -> list[Any]:
        rmap = self.stack.resource_map
        template = self.template_dict or {}
        new = template.get("Resources", {})
        params = self.parameters or {}
        # The launcher's build_resource_diff (cfn_completions) adds the dependents of
        # what changed; with the parameters, parameter-only updates are seen too.
        names = rmap.build_resource_diff(template, params)
        inputs = _changed_inputs(rmap, template, params)
        modified = set(names["Modify"])
        old = rmap._resource_json_map
        region = self.stack.region_name
        changes = []
        for action in ("Add", "Modify", "Remove"):
            for name in dict.fromkeys(names[action]):
                source = old if action == "Remove" else new
                rtype = source[name]["Type"]
                change = cfn_models.Change(action=action, logical_resource_id=name,
                                           resource_type=rtype)
                change.replacement = None
                change.scope = []
                change.physical_resource_id = None
                if action != "Add":
                    parsed = rmap._parsed_resources.get(name)
                    physical = getattr(parsed, "physical_resource_id", None)
                    change.physical_resource_id = physical if isinstance(physical, str) else None
                if action == "Modify":
                    change.replacement, change.scope = _replacement(
                        rtype, old[name], new[name], inputs, modified - {name}, region)
                changes.append(change)
        return changes

    cfn_models.ChangeSet.diff = diff


def install() -> None:
    _complete_change_set_changes()
