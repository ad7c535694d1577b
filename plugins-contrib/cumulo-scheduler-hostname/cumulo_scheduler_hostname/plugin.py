"""Pass only hosts whose names match a configured pattern (e.g. one rack, one pod)."""

from __future__ import annotations

import re

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostFilter, HostState, RequestSpec

GROUP = "scheduler_hostname"
OPTS: list[cfg.Opt] = [
    cfg.StrOpt("pattern", default=".*",
               help="Regular expression a host name must match (re.fullmatch) to receive new servers."),
]


class HostnameFilter(HostFilter):
    """Keeps hosts whose names fully match ``[scheduler_hostname] pattern``."""

    interface_version = "2.0"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        try:  # built directly (tests) as well as by the registry, which registers them first
            self.conf.register_opts(OPTS, group=GROUP)
        except cfg.DuplicateOptError:
            pass

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return [(GROUP, OPTS)]

    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.conf[GROUP].pattern)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return self._pattern().fullmatch(host.host) is not None

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        pattern = self._pattern()  # compile once for the whole list
        return [h for h in hosts if pattern.fullmatch(h.host)]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return HostnameFilter.list_opts()
