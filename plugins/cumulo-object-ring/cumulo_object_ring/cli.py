"""Operator commands: ``cumulo ring create|add|remove|set-weight|rebalance|show`` and
``cumulo object replicate|audit|expire|update --once``.

Rings live in ``[object_ring] ring_dir`` (default ``<state_path>/rings``):
``<name>.builder`` (the builder's state) and ``<name>.ring.gz`` (what nodes
and proxies load, written by ``rebalance``). ``<ring>`` is ``account``,
``container``, ``object`` or ``all``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from cumulo import exception
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo_object_ring import opts
from cumulo_object_ring.ring import RING_NAMES, RingBuilder, RingError, ring_paths

_DEV_COLUMNS = ("id", "region", "zone", "ip", "port", "device", "weight", "parts", "target", "balance", "meta")


def _ring_dir() -> str:
    opts.register(CONF)
    return opts.ring_dir(CONF)


def _names(value: str) -> list[str]:
    return list(RING_NAMES) if value == "all" else [value]


def _ring_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ring", choices=[*RING_NAMES, "all"], help="Which ring (or all three)")


def _load(name: str) -> tuple[RingBuilder, str]:
    path = ring_paths(_ring_dir(), name)[0]
    try:
        return RingBuilder.load(path), path
    except RingError as err:
        raise exception.Invalid(reason=str(err)) from None


def _one_dev(b: RingBuilder, search: str) -> list[dict[str, Any]]:
    found = b.search(search)
    if not found:
        raise exception.NotFound(resource="Device", id=search)
    return found


class RingCreate(ShowOne):
    """Create an empty ring builder."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _ring_arg(parser)
        parser.add_argument("--part-power", type=int, default=10, help="2**part_power partitions (default 10)")
        parser.add_argument("--replicas", type=int, default=3, help="Copies of each partition (default 3)")
        parser.add_argument("--min-part-hours", type=float, default=1.0,
                            help="Hours before a moved partition may move again (default 1)")
        parser.add_argument("--force", action="store_true", help="Replace an existing builder")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = []
        for name in _names(parsed_args.ring):
            path = ring_paths(_ring_dir(), name)[0]
            if os.path.exists(path) and not parsed_args.force:
                raise exception.Conflict(reason=f"Ring builder {path} exists; use --force to replace it")
            try:
                b = RingBuilder(parsed_args.part_power, parsed_args.replicas, parsed_args.min_part_hours)
            except RingError as err:
                raise exception.Invalid(reason=str(err)) from None
            b.save(path)
            rows.append((name, path, b.parts, b.replicas, b.min_part_hours))
        cols = ("ring", "builder", "partitions", "replicas", "min_part_hours")
        return cols, tuple(", ".join(str(r[i]) for r in rows) for i in range(len(cols)))


class RingAdd(ShowOne):
    """Add a device to a ring (it gets partitions at the next rebalance)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _ring_arg(parser)
        parser.add_argument("--region", type=int, default=1)
        parser.add_argument("--zone", type=int, required=True)
        parser.add_argument("--ip", default="127.0.0.1")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--device", required=True, help="Device directory name on the node")
        parser.add_argument("--weight", type=float, default=100.0)
        parser.add_argument("--meta", default="")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        ids = []
        for name in _names(parsed_args.ring):
            b, path = _load(name)
            try:
                ids.append(b.add_dev(parsed_args.region, parsed_args.zone, parsed_args.ip, parsed_args.port,
                                     parsed_args.device, parsed_args.weight, parsed_args.meta))
            except RingError as err:
                raise exception.Invalid(reason=str(err)) from None
            b.save(path)
        a = parsed_args
        return (("id", "region", "zone", "ip", "port", "device", "weight"),
                (",".join(map(str, ids)), a.region, a.zone, a.ip, a.port, a.device, a.weight))


class RingRemove(Lister):
    """Mark devices for removal (their partitions move at the next rebalance)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _ring_arg(parser)
        parser.add_argument("search", help="Device id (d5), ip:port, ip:port/device or device name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = []
        for name in _names(parsed_args.ring):
            b, path = _load(name)
            for d in _one_dev(b, parsed_args.search):
                b.remove_dev(d["id"])
                rows.append((name, d["id"], f"{d['ip']}:{d['port']}/{d['device']}"))
            b.save(path)
        return ("ring", "id", "device"), rows


class RingSetWeight(Lister):
    """Change devices' weights (partitions move at the next rebalance)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _ring_arg(parser)
        parser.add_argument("search", help="Device id (d5), ip:port, ip:port/device or device name")
        parser.add_argument("weight", type=float)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = []
        for name in _names(parsed_args.ring):
            b, path = _load(name)
            for d in _one_dev(b, parsed_args.search):
                try:
                    b.set_dev_weight(d["id"], parsed_args.weight)
                except RingError as err:
                    raise exception.Invalid(reason=str(err)) from None
                rows.append((name, d["id"], f"{d['ip']}:{d['port']}/{d['device']}", parsed_args.weight))
            b.save(path)
        return ("ring", "id", "device", "weight"), rows


class RingRebalance(Lister):
    """Reassign partitions and write the ring file nodes and proxies load."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _ring_arg(parser)
        parser.add_argument("--seed", type=int, help="Random seed, for a reproducible assignment")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = []
        for name in _names(parsed_args.ring):
            b, path = _load(name)
            pending = b.dirty
            try:
                result = b.rebalance(seed=parsed_args.seed)
            except RingError as err:
                raise exception.Invalid(reason=f"{name} ring: {err}") from None
            b.save(path)
            b.write_ring(ring_paths(_ring_dir(), name)[1])
            if pending and result["parts_moved"] == 0 and result["balance"] > 1:
                self.app.stderr.write(f"{name} ring: nothing could move yet: partitions moved less than "
                                      f"min_part_hours ({b.min_part_hours}) ago stay; rebalance again later\n")
            rows.append((name, b.version, result["parts_moved"], result["balance"], result["dispersion"],
                         ",".join(map(str, result["removed"]))))
        return ("ring", "version", "parts moved", "balance %", "dispersion %", "removed"), rows


class RingShow(Lister):
    """Devices of a ring with their partitions, targets and balance."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("ring", choices=RING_NAMES)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        b, _ = _load(parsed_args.ring)
        rep = b.report()
        self.app.stderr.write(
            f"{parsed_args.ring} ring: {rep['partitions']} partitions, {rep['replicas']} replicas, "
            f"min_part_hours {rep['min_part_hours']}, version {rep['version']}, balance {rep['balance']}%, "
            f"dispersion {rep['dispersion']}%{' (changes pending: rebalance)' if rep['dirty'] else ''}\n")
        return _DEV_COLUMNS + ("removing",), [tuple(d.get(c) for c in _DEV_COLUMNS) + (d["removing"],)
                                             for d in rep["devices"]]


class _DaemonOnce(Lister):
    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    daemon = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--once", action="store_true", default=True,
                            help="Run one pass on every storage node now (the default)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        from cumulo_object_ring.backend import RingBackend

        results = RingBackend(PluginContext(CONF)).run_daemon(self.daemon)
        rows = [(server, ", ".join(f"{k}={v}" for k, v in stats.items())) for server, stats in results.items()]
        return ("node", "result"), rows


class ObjectReplicate(_DaemonOnce):
    """Run the replicator once on every storage node."""

    daemon = "replicate"


class ObjectAudit(_DaemonOnce):
    """Run the auditor once on every storage node."""

    daemon = "audit"


class ObjectExpire(_DaemonOnce):
    """Run the expirer once on every storage node."""

    daemon = "expire"


class ObjectUpdate(_DaemonOnce):
    """Run the updater once on every storage node."""

    daemon = "update"


