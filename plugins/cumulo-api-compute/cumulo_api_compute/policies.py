"""Policy rules of the compute API (defaults in code; override in the policy file)."""

from __future__ import annotations

from oslo_policy import policy

from cumulo import policy as cumulo_policy

ADMIN = "compute:admin"
OWNER = "compute:owner"
READER = "compute:reader"
#: Nova's names: choosing the host of a new server is for administrators.
FORCED_HOST = "os_compute_api:servers:create:forced_host"
REQUESTED_DESTINATION = "compute:servers:create:requested_destination"
#: Nova's names for a server's interfaces (os-interface) and the legacy fixed-IP actions (2.1-2.43).
INTERFACES_LIST = "os_compute_api:os-attach-interfaces:list"
INTERFACES_SHOW = "os_compute_api:os-attach-interfaces:show"
INTERFACES_CREATE = "os_compute_api:os-attach-interfaces:create"
INTERFACES_DELETE = "os_compute_api:os-attach-interfaces:delete"
MULTINIC_ADD = "os_compute_api:os-multinic:add"
MULTINIC_REMOVE = "os_compute_api:os-multinic:remove"
#: Nova's names for a server's volumes (os-volume_attachments).
VOLUMES_LIST = "os_compute_api:os-volumes-attachments:index"
VOLUMES_SHOW = "os_compute_api:os-volumes-attachments:show"
VOLUMES_CREATE = "os_compute_api:os-volumes-attachments:create"
VOLUMES_UPDATE = "os_compute_api:os-volumes-attachments:update"
VOLUMES_SWAP = "os_compute_api:os-volumes-attachments:swap"
VOLUMES_DELETE = "os_compute_api:os-volumes-attachments:delete"

RULES = [
    policy.RuleDefault(ADMIN, "rule:admin_required",
                       "Administrative compute APIs: flavors manage, quotas update, hypervisors, services, "
                       "aggregates, other projects' servers."),
    policy.RuleDefault(OWNER, "rule:admin_or_member", "Create and change servers, key pairs and server groups."),
    policy.RuleDefault(READER, "rule:admin_or_reader or rule:admin_or_member", "Read servers, flavors, limits."),
    policy.RuleDefault(FORCED_HOST, "rule:admin_required",
                       "Create a server on a chosen host, bypassing the scheduler's choice: "
                       "availability_zone 'zone:host' or 'zone:host:node'."),
    policy.RuleDefault(REQUESTED_DESTINATION, "rule:admin_required",
                       "Create a server on a requested host (the 'host' field, microversion 2.74)."),
    policy.RuleDefault(INTERFACES_LIST, "rule:admin_or_reader or rule:admin_or_member",
                       "List the port interfaces of a server (GET /servers/{server_id}/os-interface)."),
    policy.RuleDefault(INTERFACES_SHOW, "rule:admin_or_reader or rule:admin_or_member",
                       "Show a port interface of a server (GET /servers/{server_id}/os-interface/{port_id})."),
    policy.RuleDefault(INTERFACES_CREATE, "rule:admin_or_member",
                       "Attach a port, or a new port on a network, to a server (POST /servers/{server_id}/os-interface)."),
    policy.RuleDefault(INTERFACES_DELETE, "rule:admin_or_member",
                       "Detach a port interface from a server (DELETE /servers/{server_id}/os-interface/{port_id})."),
    policy.RuleDefault(MULTINIC_ADD, "rule:admin_or_member",
                       "Add a fixed IP from a network to a server (the addFixedIp action, microversions 2.1-2.43)."),
    policy.RuleDefault(MULTINIC_REMOVE, "rule:admin_or_member",
                       "Remove a fixed IP from a server (the removeFixedIp action, microversions 2.1-2.43)."),
    policy.RuleDefault(VOLUMES_LIST, "rule:admin_or_reader or rule:admin_or_member",
                       "List the volumes attached to a server (GET /servers/{server_id}/os-volume_attachments)."),
    policy.RuleDefault(VOLUMES_SHOW, "rule:admin_or_reader or rule:admin_or_member",
                       "Show a volume attached to a server "
                       "(GET /servers/{server_id}/os-volume_attachments/{volume_id})."),
    policy.RuleDefault(VOLUMES_CREATE, "rule:admin_or_member",
                       "Attach a volume to a server (POST /servers/{server_id}/os-volume_attachments)."),
    policy.RuleDefault(VOLUMES_UPDATE, "rule:admin_or_member",
                       "Update a server's volume attachment other than swapping it (its delete_on_termination; "
                       "PUT /servers/{server_id}/os-volume_attachments/{volume_id}, microversion 2.85)."),
    policy.RuleDefault(VOLUMES_SWAP, "rule:admin_required",
                       "Swap a server's volume for another "
                       "(PUT /servers/{server_id}/os-volume_attachments/{volume_id} naming another volume)."),
    policy.RuleDefault(VOLUMES_DELETE, "rule:admin_or_member",
                       "Detach a volume from a server "
                       "(DELETE /servers/{server_id}/os-volume_attachments/{volume_id})."),
]


def register() -> None:
    cumulo_policy.register_rules(RULES)


def list_rules() -> list[policy.RuleDefault]:
    return list(RULES)


# Nova's names and defaults of the legacy and administrative resources added for Tempest (issue 12).
_ADMIN, _MEMBER, _READER = "rule:admin_required", "rule:admin_or_member", "rule:admin_or_reader or rule:admin_or_member"
HOSTS = {a: f"os_compute_api:os-hosts:{a}" for a in ("list", "show", "update", "reboot", "shutdown", "start")}
SECURITY_GROUPS = {a: f"os_compute_api:os-security-groups:{a}"
                   for a in ("get", "show", "create", "update", "delete", "rule:create", "rule:delete")}
FLOATING_IPS = {a: f"os_compute_api:os-floating-ips:{a}" for a in ("list", "show", "create", "delete", "add", "remove")}
FLOATING_IP_POOLS = "os_compute_api:os-floating-ip-pools:list"
NETWORKS = {a: f"os_compute_api:os-networks:{a}" for a in ("list", "view")}
TENANT_NETWORKS = {a: f"os_compute_api:os-tenant-networks:{a}" for a in ("list", "show")}
RESET_STATE = "os_compute_api:os-admin-actions:reset_state"
AUDIT_LOG = {a: f"os_compute_api:os-instance-usage-audit-log:{a}" for a in ("list", "show")}
DIAGNOSTICS = "os_compute_api:os-server-diagnostics"
QUOTA_CLASS_UPDATE = "os_compute_api:os-quota-class-sets:update"
RESTORE = "os_compute_api:os-deferred-delete:restore"
OS_VOLUMES = {a: f"os_compute_api:os-volumes:{a}" for a in ("list", "detail", "show", "create", "delete")}
OS_SNAPSHOTS = {a: f"os_compute_api:os-volumes:snapshots:{a}" for a in ("list", "detail", "show", "create", "delete")}
EXTERNAL_EVENTS = "os_compute_api:os-server-external-events:create"
ASSISTED_SNAPSHOTS = {a: f"os_compute_api:os-assisted-volume-snapshots:{a}" for a in ("create", "delete")}

RULES += [
    *[policy.RuleDefault(name, _ADMIN, f"os-hosts {a} (below microversion 2.43).") for a, name in HOSTS.items()],
    *[policy.RuleDefault(name, _READER if a in ("get", "show") else _MEMBER,
                         f"os-security-groups {a} (the network proxy, below microversion 2.36).")
      for a, name in SECURITY_GROUPS.items()],
    *[policy.RuleDefault(name, _READER if a in ("list", "show") else _MEMBER,
                         f"os-floating-ips {a} (the network proxy below 2.36; the server actions below 2.44).")
      for a, name in FLOATING_IPS.items()],
    policy.RuleDefault(FLOATING_IP_POOLS, _READER, "List the floating IP pools (below microversion 2.36)."),
    *[policy.RuleDefault(name, _READER, f"os-networks {a} (the network proxy, below microversion 2.36).")
      for a, name in NETWORKS.items()],
    *[policy.RuleDefault(name, _READER, f"os-tenant-networks {a} (the network proxy, below microversion 2.36).")
      for a, name in TENANT_NETWORKS.items()],
    policy.RuleDefault(RESET_STATE, _ADMIN, "Reset the state of a server (the os-resetState action)."),
    *[policy.RuleDefault(name, _ADMIN, f"os-instance_usage_audit_log {a}.") for a, name in AUDIT_LOG.items()],
    policy.RuleDefault(DIAGNOSTICS, _ADMIN, "Show the diagnostics of a server (GET /servers/{server_id}/diagnostics)."),
    policy.RuleDefault(QUOTA_CLASS_UPDATE, _ADMIN, "Update the quotas of a quota class (PUT /os-quota-class-sets)."),
    policy.RuleDefault(RESTORE, _MEMBER, "Restore a soft-deleted server (the restore action)."),
    *[policy.RuleDefault(name, _READER if a in ("list", "detail", "show") else _MEMBER,
                         f"os-volumes {a} (the volume proxy, below microversion 2.36).")
      for a, name in OS_VOLUMES.items()],
    *[policy.RuleDefault(name, _READER if a in ("list", "detail", "show") else _MEMBER,
                         f"os-snapshots {a} (the volume snapshot proxy, below microversion 2.36).")
      for a, name in OS_SNAPSHOTS.items()],
    policy.RuleDefault(EXTERNAL_EVENTS, "role:service or rule:admin_required",
                       "Tell the compute service of events of its servers (POST /os-server-external-events): "
                       "other services (the service role) and administrators."),
    *[policy.RuleDefault(name, "role:service or rule:admin_required",
                         f"os-assisted-volume-snapshots {a} (the volume service's file drivers; administrators).")
      for a, name in ASSISTED_SNAPSHOTS.items()],
]

# Server moves (issue 12): Nova's names and defaults.
MIGRATE = "os_compute_api:os-migrate-server:migrate"
MIGRATE_HOST = "os_compute_api:os-migrate-server:migrate:host"
MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"
EVACUATE = "os_compute_api:os-evacuate"
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
UNSHELVE_TO_HOST = "os_compute_api:os-shelve:unshelve_to_host"
CREATE_BACKUP = "os_compute_api:os-create-backup"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
SERVER_MIGRATIONS = {a: f"os_compute_api:servers:migrations:{a}" for a in ("index", "show", "force_complete",
                                                                             "delete")}

RULES += [
    policy.RuleDefault(MIGRATE, _ADMIN, "Cold-migrate a server to another host (the migrate action)."),
    policy.RuleDefault(MIGRATE_HOST, _ADMIN, "Cold-migrate a server to a chosen host (migrate with 'host', 2.56)."),
    policy.RuleDefault(MIGRATE_LIVE, _ADMIN, "Live-migrate a server to another host (the os-migrateLive action)."),
    policy.RuleDefault(EVACUATE, _ADMIN, "Evacuate a server from a host that is down (the evacuate action)."),
    policy.RuleDefault(SHELVE, _MEMBER, "Shelve a server (the shelve action)."),
    policy.RuleDefault(SHELVE_OFFLOAD, _ADMIN, "Offload a shelved server now (the shelveOffload action)."),
    policy.RuleDefault(UNSHELVE, _MEMBER, "Unshelve a server (the unshelve action)."),
    policy.RuleDefault(UNSHELVE_TO_HOST, _ADMIN, "Unshelve an offloaded server to a chosen host (2.91)."),
    policy.RuleDefault(CREATE_BACKUP, _MEMBER, "Back a server up to the image service (the createBackup action)."),
    policy.RuleDefault(MIGRATIONS_INDEX, _ADMIN, "List the migrations of every server (GET /os-migrations)."),
    *[policy.RuleDefault(name, _ADMIN, f"servers/{{server_id}}/migrations {a} (live migrations of a server).")
      for a, name in SERVER_MIGRATIONS.items()],
]
