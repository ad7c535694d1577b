"""``[compute]`` and ``[quota]`` options of the compute area. Imports only oslo.config.

Declared by :class:`cumulo_service_compute.area.ComputeArea` (``list_opts``): the hub registers them when it
loads the installed areas; the sample generator reads this distribution's ``oslo.config.opts``. The Compute
API's own ``[compute] enable_instance_password`` is its frontend's, ``[metadata]`` the kernel's
(:mod:`cumulo.conf.metadata`: the metadata API and the network area's proxies share its secret).
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "compute"
QUOTA_GROUP = "quota"

compute_opts: list[cfg.Opt] = [
    cfg.StrOpt("hypervisor_driver", default="fake", help="Hypervisor driver (cumulo.hypervisor plugin) of this host."),
    cfg.IntOpt("max_attempts", default=3, min=1,
               help="Hosts a build is tried on before the server goes to ERROR."),
    cfg.IntOpt("task_state_timeout", default=300, min=5,
               help="Seconds an instance may stay in one task state before it is put in ERROR with a fault."),
    cfg.IntOpt("sweep_interval", default=30, min=1, help="Seconds between task-state timeout sweeps."),
    cfg.IntOpt("resource_report_interval", default=30, min=1,
               help="Seconds between a host's resource reports to compute_nodes."),
    cfg.IntOpt("sync_power_state_interval", default=60, min=1, help="Seconds between power-state syncs."),
    cfg.FloatOpt("host_state_cache_seconds", default=2.0, min=0,
                 help="How long host_states() serves its cached view to the scheduler."),
    cfg.IntOpt("build_workers", default=32, min=1, help="Threads scheduling builds in the API process."),
    cfg.IntOpt("host_rpc_workers", default=16, min=1,
               help="Threads each compute host uses for its RPC requests (operations on different instances "
                    "run in parallel up to this)."),
    cfg.BoolOpt("allow_resize_to_same_host", default=True,
                help="Let a resize stay on its host when no other host fits (another host is preferred)."),
    cfg.StrOpt("default_availability_zone", default="nova", help="Zone of hosts in no zoned aggregate."),
    cfg.FloatOpt("cpu_allocation_ratio", default=16.0, min=0.0, help="Virtual CPUs per physical CPU."),
    cfg.FloatOpt("ram_allocation_ratio", default=1.5, min=0.0, help="Virtual RAM per physical RAM."),
    cfg.FloatOpt("disk_allocation_ratio", default=1.0, min=0.0, help="Virtual disk per physical disk."),
    cfg.IntOpt("shutdown_timeout", default=60, min=0, help="Seconds a graceful stop waits before powering off."),
    cfg.IntOpt("shelved_offload_time", default=0, min=-1,
               help="Seconds a shelved server keeps its host before it is offloaded (0: at once, as Nova's "
                    "default; -1: never)."),
    cfg.IntOpt("shelved_poll_interval", default=60, min=1,
               help="Seconds between checks for shelved servers due to be offloaded (shelved_offload_time > 0)."),
]


quota_opts: list[cfg.Opt] = [
    cfg.IntOpt("instances", default=10, min=-1, help="Servers per project (-1: unlimited)."),
    cfg.IntOpt("cores", default=20, min=-1, help="vCPUs per project."),
    cfg.IntOpt("ram", default=51200, min=-1, help="MiB of RAM per project."),
    cfg.IntOpt("key_pairs", default=100, min=-1, help="Key pairs per user."),
    cfg.IntOpt("server_groups", default=10, min=-1, help="Server groups per project."),
    cfg.IntOpt("server_group_members", default=10, min=-1, help="Servers per server group."),
    cfg.IntOpt("metadata_items", default=128, min=-1, help="Metadata items per server."),
    cfg.IntOpt("injected_files", default=5, min=-1, help="Injected files per server (not used: personality is gone)."),
    cfg.IntOpt("injected_file_content_bytes", default=10240, min=-1, help="Bytes per injected file."),
    cfg.IntOpt("injected_file_path_bytes", default=255, min=-1, help="Bytes per injected file path."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, compute_opts), (QUOTA_GROUP, quota_opts)]
