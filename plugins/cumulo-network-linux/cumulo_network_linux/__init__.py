"""Cumulo's Linux data plane (network driver ``linuxbridge``).

One Linux bridge per network per host (a flat network's bridge holds its
physical interface, a VXLAN network's its VXLAN device), dnsmasq per network
in a ``qdhcp-`` namespace, a ``qrouter-`` namespace per router with nftables
NAT, security groups as one nftables table, metadata proxies in the router
and DHCP namespaces. Everything is built with pyroute2 and ``nft``; nothing
parses ``ip`` output. See ``doc/source/network-linux.rst``.
"""
