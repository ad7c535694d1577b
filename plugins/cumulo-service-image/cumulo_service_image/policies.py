"""The image area's policy rules (``oslo.policy.policies`` namespace ``cumulo_service_image``).

Listing them registers nothing: :mod:`cumulo_service_image.manager` registers
them with the kernel's enforcer when the service is loaded.
"""

from __future__ import annotations

from oslo_policy import policy

RULES = [
    policy.RuleDefault("image:publicize_image", "rule:admin_required",
                       "Make an image public (visible to every project)."),
    # Glance's defaults: an admin, or a member of the project that owns the image.
    policy.RuleDefault("image:deactivate", "rule:admin_or_member", "Deactivate an image."),
    policy.RuleDefault("image:reactivate", "rule:admin_or_member", "Reactivate an image."),
    policy.RuleDefault("image:set_owner", "rule:admin_required", "Give an image to another project."),
]

# Metadata definitions, as Glance's defaults: anyone with a role in a project reads (what they see is
# narrowed by visibility), only admins (Glance's ``metadef_admin``) change.
_METADEF_READ = "rule:admin_required or role:reader"
RULES += [
    policy.RuleDefault(f"image:{name}", _METADEF_READ, f"{name.replace('_', ' ').capitalize()}.")
    for name in ("get_metadef_namespace", "get_metadef_namespaces", "get_metadef_object", "get_metadef_objects",
                 "list_metadef_resource_types", "get_metadef_resource_type", "get_metadef_property",
                 "get_metadef_properties", "get_metadef_tag", "get_metadef_tags")
] + [
    policy.RuleDefault(f"image:{name}", "rule:admin_required", f"{name.replace('_', ' ').capitalize()}.")
    for name in ("add_metadef_namespace", "modify_metadef_namespace", "delete_metadef_namespace",
                 "add_metadef_object", "modify_metadef_object", "delete_metadef_object",
                 "add_metadef_resource_type_association", "remove_metadef_resource_type_association",
                 "add_metadef_property", "modify_metadef_property", "remove_metadef_property",
                 "add_metadef_tag", "add_metadef_tags", "modify_metadef_tag", "delete_metadef_tag",
                 "delete_metadef_tags")
]

# Tasks, as Glance's ``tasks_api_access``: admins only.
RULES += [policy.RuleDefault(f"image:{name}", "rule:admin_required", f"{what}.")
          for name, what in (("add_task", "Create an image task"), ("get_task", "Show an image task"),
                             ("get_tasks", "List image tasks"))]


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the image area's rules."""
    return list(RULES)
