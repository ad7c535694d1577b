"""``[linux_network]`` options of the ``linuxbridge`` network driver."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "linux_network"

linux_network_opts: list[cfg.Opt] = [
    cfg.StrOpt("host_namespace", default="",
               help="Network namespace the bridges, VXLAN devices and security group rules live in "
                    "(made when missing). Empty: the namespace cumulo runs in. Router and DHCP "
                    "namespaces are always their own."),
    cfg.StrOpt("outside_namespace", default="",
               help="Where an external network without a physical interface gets its gateway: a veth "
                    "from its bridge into this namespace holds the external subnet's gateway address, "
                    "so floating IPs are reachable from here (the all-in-one's 'outside'). Empty: the "
                    "namespace cumulo runs in."),
    cfg.ListOpt("bound_hosts", default=[],
                help="Compute hosts whose servers' ports are plugged into this machine's bridges (and "
                     "filtered by its security group rules). Empty: every host, as in an all-in-one "
                     "cloud, where all compute hosts (the fake driver's several included) are this machine."),
    cfg.ListOpt("physical_interface_mappings", default=[],
                help="physical_network:interface pairs: the interface a flat network's bridge (or a VLAN "
                     "network's subinterface) uses. A physical network not listed gets a bridge with no "
                     "uplink (and, when external, the gateway veth of outside_namespace)."),
    cfg.StrOpt("vxlan_local_ip", default="",
               help="This host's address for VXLAN tunnels. Empty: VXLAN networks are bridges local to "
                    "this host (enough for one host)."),
    cfg.ListOpt("vxlan_peers", default=[],
                help="Addresses of the other hosts' VXLAN endpoints (head-end replication of broadcasts)."),
    cfg.PortOpt("vxlan_port", default=4789, help="UDP port of VXLAN."),
    cfg.StrOpt("dnsmasq_binary", default="dnsmasq", help="dnsmasq, which serves DHCP per network."),
    cfg.IntOpt("dhcp_lease_time", default=86400, min=120, help="DHCP lease time, in seconds."),
    cfg.ListOpt("dns_servers", default=[],
                help="DNS servers handed out when a subnet names none."),
    cfg.StrOpt("nft_binary", default="nft", help="nft, which programs NAT and security groups."),
    cfg.BoolOpt("metadata_proxy", default=True,
                help="Run a metadata proxy (169.254.169.254:80) in every router and DHCP namespace; it "
                     "signs what it forwards with [metadata] proxy_shared_secret, or when that is empty "
                     "with a secret it generates into <state_path>/metadata-proxy.secret (which the "
                     "metadata service of the same state path reads)."),
    cfg.StrOpt("metadata_url", default="",
               help="The metadata service the proxies forward to. Empty: the API server's /metadata "
                    "on 127.0.0.1."),
    cfg.FloatOpt("supervise_interval", default=5.0, min=0.5,
                 help="Seconds between checks that every dnsmasq and metadata proxy still runs (a dead one is "
                      "restarted)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, linux_network_opts)]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(linux_network_opts, group=GROUP)
