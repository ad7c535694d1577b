"""The volume area's policy rules (``oslo.policy.policies`` namespace ``cumulo_service_volume``).

Cinder's defaults (its Xena "system admin or project reader/member" rules,
which recognise project scope only): readers of a project see its volumes,
members change them, administrators manage types, quotas, services and
states. Listing them registers nothing: :mod:`cumulo_service_volume.manager`
registers them with the kernel's enforcer when the service is loaded.
"""

from __future__ import annotations

from oslo_policy import policy

READER = "rule:xena_system_admin_or_project_reader"
MEMBER = "rule:xena_system_admin_or_project_member"
ADMIN = "rule:admin_api"

_RULES: list[tuple[str, str, str]] = [
    ("admin_api", "is_admin:True or role:admin", "Default rule for most Admin APIs."),
    ("xena_system_admin_or_project_reader", "(role:admin) or (role:reader and project_id:%(project_id)s)",
     "An administrator or a reader of the target's project (project scope only)."),
    ("xena_system_admin_or_project_member", "(role:admin) or (role:member and project_id:%(project_id)s)",
     "An administrator or a member of the target's project (project scope only)."),
    # volumes
    ("volume:create", MEMBER, "Create a volume."),
    ("volume:create_from_image", MEMBER, "Create a volume from an image."),
    ("volume:get", READER, "Show a volume."),
    ("volume:get_all", READER, "List volumes or their summary."),
    ("volume:update", MEMBER, "Update a volume's name and description."),
    ("volume:delete", MEMBER, "Delete a volume."),
    ("volume:force_delete", ADMIN, "Force-delete a volume (os-force_delete)."),
    ("volume:extend", MEMBER, "Extend a volume (os-extend)."),
    ("volume:get_volume_metadata", READER, "Show a volume's metadata."),
    ("volume:create_volume_metadata", MEMBER, "Create volume metadata."),
    ("volume:update_volume_metadata", MEMBER, "Replace or update volume metadata."),
    ("volume:delete_volume_metadata", MEMBER, "Delete a volume's metadata key."),
    ("volume:update_readonly_flag", MEMBER, "Set a volume read-only (os-update_readonly_flag)."),
    ("volume_extension:volume_actions:upload_image", MEMBER, "Upload a volume to an image "
                                                             "(os-volume_upload_image)."),
    ("volume_extension:volume_actions:upload_public", ADMIN, "Upload a volume to a public image."),
    ("volume_extension:volume_actions:set_bootable", MEMBER, "Mark a volume bootable (os-set_bootable)."),
    ("volume_extension:volume_admin_actions:reset_status", ADMIN, "Reset a volume's status (os-reset_status)."),
    ("volume_extension:volume_host_attribute", ADMIN, "Show os-vol-host-attr:host of volumes."),
    ("volume_extension:volume_tenant_attribute", READER, "Show os-vol-tenant-attr:tenant_id of volumes."),
    ("volume:multiattach", MEMBER, "Create a multiattach volume."),
    ("volume:retype", MEMBER, "Retype a volume (os-retype)."),
    ("volume_extension:volume_actions:reserve", MEMBER, "Mark a volume attaching (os-reserve)."),
    ("volume_extension:volume_actions:unreserve", MEMBER, "Unmark a volume attaching (os-unreserve)."),
    ("volume_extension:volume_actions:attach", MEMBER, "Record a volume attached (os-attach)."),
    ("volume_extension:volume_actions:begin_detaching", MEMBER, "Mark a volume detaching (os-begin_detaching)."),
    ("volume_extension:volume_actions:roll_detaching", MEMBER, "Undo os-begin_detaching (os-roll_detaching)."),
    ("volume_extension:volume_actions:detach", MEMBER, "Record a volume detached (os-detach)."),
    ("volume_extension:volume_image_metadata:show", READER, "Show a volume's image metadata."),
    ("volume_extension:volume_image_metadata:set", MEMBER, "Set a volume's image metadata (os-set_image_metadata)."),
    ("volume_extension:volume_image_metadata:remove", MEMBER, "Remove a volume's image metadata key "
                                                              "(os-unset_image_metadata)."),
    ("volume_extension:volume_admin_actions:force_detach", ADMIN, "Force-detach a volume (os-force_detach)."),
    # attachments (3.27)
    ("volume:attachment_create", MEMBER, "Create an attachment (reserve a volume for a server)."),
    ("volume:attachment_update", MEMBER, "Update an attachment with a connector (export the volume)."),
    ("volume:attachment_delete", MEMBER, "Delete an attachment (detach)."),
    ("volume:attachment_complete", MEMBER, "Mark an attachment complete (os-complete)."),
    ("volume:attachment_get", READER, "Show an attachment."),
    ("volume:attachment_get_all", READER, "List attachments."),
    # snapshots
    ("volume:create_snapshot", MEMBER, "Create a snapshot."),
    ("volume:get_snapshot", READER, "Show a snapshot."),
    ("volume:get_all_snapshots", READER, "List snapshots."),
    ("volume:update_snapshot", MEMBER, "Update a snapshot."),
    ("volume:delete_snapshot", MEMBER, "Delete a snapshot."),
    ("volume:snapshot_metadata", MEMBER, "Show, set or delete a snapshot's metadata."),
    ("volume_extension:snapshot_admin_actions:reset_status", ADMIN, "Reset a snapshot's status."),
    ("snapshot_extension:snapshot_actions:update_snapshot_status", MEMBER, "Update a snapshot's status and "
                                                                           "progress (os-update_snapshot_status)."),
    ("volume_extension:snapshot_admin_actions:force_delete", ADMIN, "Force-delete a snapshot."),
    # backups
    ("backup:create", MEMBER, "Create a backup."),
    ("backup:get", READER, "Show a backup."),
    ("backup:get_all", READER, "List backups."),
    ("backup:delete", MEMBER, "Delete a backup."),
    ("backup:update", MEMBER, "Update a backup's name, description and metadata."),
    ("backup:restore", MEMBER, "Restore a backup."),
    ("backup:backup-force_delete", ADMIN, "Force-delete a backup."),
    ("backup:backup_project_attribute", ADMIN, "Show os-backup-project-attr:project_id of backups."),
    ("volume_extension:backup_admin_actions:reset_status", ADMIN, "Reset a backup's status."),
    # generic volume groups (3.11-3.20)
    ("group:group_types_manage", ADMIN, "Create, update and delete group types."),
    ("group:group_types_specs", ADMIN, "Show, create, update and delete group type specs."),
    ("group:access_group_types_specs", ADMIN, "Include group specs in group type views."),
    ("group:get_all_group_types", "", "List group types."),
    ("group:get_group_type", "", "Show a group type."),
    ("group:create", MEMBER, "Create a group."),
    ("group:get", READER, "Show a group."),
    ("group:get_all", READER, "List groups."),
    ("group:update", MEMBER, "Update a group (name, description, volumes)."),
    ("group:delete", MEMBER, "Delete a group."),
    ("group:reset_status", ADMIN, "Reset a group's status."),
    ("group:create_group_snapshot", MEMBER, "Create a group snapshot."),
    ("group:get_group_snapshot", READER, "Show a group snapshot."),
    ("group:get_all_group_snapshots", READER, "List group snapshots."),
    ("group:delete_group_snapshot", MEMBER, "Delete a group snapshot."),
    ("group:reset_group_snapshot_status", ADMIN, "Reset a group snapshot's status."),
    # manage and unmanage
    ("volume_extension:volume_manage", ADMIN, "Manage data on a backend as a volume (os-volume-manage)."),
    ("volume_extension:volume_unmanage", ADMIN, "Unmanage a volume, keeping its data (os-unmanage)."),
    ("volume_extension:list_manageable", ADMIN, "List the data a backend could manage (manageable_volumes)."),
    # user messages (3.3)
    ("message:get_all", READER, "List the project's user messages."),
    ("message:get", READER, "Show a user message."),
    ("message:delete", MEMBER, "Delete a user message."),
    # QoS specs
    ("volume_extension:qos_specs_manage:create", ADMIN, "Create QoS specs."),
    ("volume_extension:qos_specs_manage:get", ADMIN, "Show QoS specs and their associations."),
    ("volume_extension:qos_specs_manage:get_all", ADMIN, "List QoS specs."),
    ("volume_extension:qos_specs_manage:update", ADMIN, "Set or unset QoS specs keys; associate them with types."),
    ("volume_extension:qos_specs_manage:delete", ADMIN, "Delete QoS specs."),
    # transfers
    ("volume:create_transfer", MEMBER, "Create a volume transfer."),
    ("volume:get_transfer", READER, "Show a volume transfer."),
    ("volume:get_all_transfers", READER, "List volume transfers."),
    ("volume:delete_transfer", MEMBER, "Delete a volume transfer."),
    ("volume:accept_transfer", MEMBER, "Accept a volume transfer."),
    # types
    ("volume_extension:types_manage", ADMIN, "Create, update and delete volume types."),
    ("volume_extension:type_get", READER, "Show a volume type."),
    ("volume_extension:type_get_all", READER, "List volume types."),
    ("volume_extension:access_types_extra_specs", ADMIN, "Include extra specs in the volume type views."),
    ("volume_extension:types_extra_specs:index", READER, "List a volume type's extra specs."),
    ("volume_extension:types_extra_specs:show", READER, "Show one extra spec of a volume type."),
    ("volume_extension:types_extra_specs:create", ADMIN, "Create volume type extra specs."),
    ("volume_extension:types_extra_specs:update", ADMIN, "Update a volume type extra spec."),
    ("volume_extension:types_extra_specs:delete", ADMIN, "Delete a volume type extra spec."),
    ("volume_extension:volume_type_access", READER, "List the projects a private volume type is shared with."),
    ("volume_extension:volume_type_access:addProjectAccess", ADMIN, "Give a project access to a private type."),
    ("volume_extension:volume_type_access:removeProjectAccess", ADMIN, "Take a project's access to a type."),
    # quotas, limits, zones, services
    ("volume_extension:quotas:show", READER, "Show a project's quotas."),
    ("volume_extension:quotas:update", ADMIN, "Update a project's quotas."),
    ("volume_extension:quotas:delete", ADMIN, "Reset a project's quotas to the defaults."),
    ("volume_extension:quota_classes", ADMIN, "Show a quota class."),
    ("volume_extension:quota_classes:update", ADMIN, "Update a quota class (the default quotas)."),
    ("limits_extension:used_limits", READER, "Show the used limits of a project."),
    ("volume_extension:services:index", ADMIN, "List the block storage services."),
    ("volume_extension:services:update", ADMIN, "Enable or disable a block storage service."),
    ("volume_extension:services:freeze", ADMIN, "Freeze a backend (os-services/freeze)."),
    ("volume_extension:services:thaw", ADMIN, "Thaw a backend (os-services/thaw)."),
    ("volume_extension:hosts", ADMIN, "List the hosts and show one (os-hosts)."),
    ("scheduler_extension:scheduler_stats:get_pools", ADMIN, "List the backends' pools (scheduler-stats)."),
    ("volume_extension:capabilities", ADMIN, "Show a backend's capabilities."),
    ("volume:get_all_availability_zones", "", "List the availability zones."),
]

RULES = [policy.RuleDefault(name, check, description) for name, check, description in _RULES]


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the volume area's rules."""
    return list(RULES)
