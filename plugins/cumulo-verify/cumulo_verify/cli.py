"""``cumulo verify``: install the pinned Tempest, write ``tempest.conf`` from a running cloud, run a selection."""

from __future__ import annotations

import argparse
import collections
import os
import shutil
from typing import Any

from cliff.lister import Lister

from cumulo import exception
from cumulo.conf import CONF
from cumulo_verify import probe, runner, tempestconf


class Verify(Lister):
    """Run Tempest against a running cloud and print passed/failed/skipped per service.

    Exits 1 when a test failed. The results (subunit and JSON) and tempest.conf stay in the workspace.
    """

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--install", action="store_true",
                            help=f"Create the venv and pip install tempest=={runner.TEMPEST_VERSION} "
                                 "(kept when already there)")
        parser.add_argument("--venv", metavar="DIR", default=runner.DEFAULT_VENV,
                            help=f"Tempest's own venv (default {runner.DEFAULT_VENV})")
        parser.add_argument("--workspace", metavar="DIR",
                            help="Where tempest.conf, the logs and the results go (default <state_path>/tempest)")
        parser.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD", "cumulo"),
                            help="clouds.yaml entry with the admin credentials (default $OS_CLOUD or 'cumulo')")
        parser.add_argument("--clouds-yaml", metavar="FILE",
                            help="clouds.yaml to read (default: $OS_CLIENT_CONFIG_FILE or the standard places, "
                                 "then <state_path>/clouds.yaml)")
        parser.add_argument("--service", action="append", default=[], choices=sorted(runner.SERVICES),
                            help="Only this service's API tests (repeat for more; default every service "
                                 "the catalog has)")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--smoke", action="store_true", help="Only the smoke-tagged API tests")
        which.add_argument("--regex", metavar="REGEX", help="Tempest's tests whose id matches (replaces "
                                                            "--service and --smoke)")
        parser.add_argument("--exclude-regex", metavar="REGEX", help="Leave out the tests whose id matches")
        parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                            help="Tempest workers (default 1)")
        parser.add_argument("--config-only", action="store_true",
                            help="Write tempest.conf (creating the images and flavors) and stop")
        parser.add_argument("--output", metavar="FILE", help="Also copy the JSON results here")
        for opt, what in (("--image-ref", "image"), ("--flavor-ref", "flavor")):
            parser.add_argument(opt, nargs=2, metavar=("ID", "ALT_ID"),
                                help=f"The two {what}s Tempest uses (default: cumulo-verify ones, created "
                                     "when missing)")
        return parser

    def _progress(self, message: str) -> None:
        self.app.stderr.write(f"verify: {message}\n")
        self.app.stderr.flush()

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        self._failed = False
        workspace = os.path.abspath(parsed_args.workspace or os.path.join(CONF.state_path, "tempest"))
        try:
            if parsed_args.install:
                runner.install(parsed_args.venv, self._progress)
            elif not parsed_args.config_only and runner.installed_version(parsed_args.venv) is None:
                raise runner.VerifyError(f"no Tempest in {parsed_args.venv}: run `cumulo verify --install` "
                                         "(or give --venv)")
            conn = probe.connect(parsed_args.os_cloud, parsed_args.clouds_yaml,
                                 fallback=os.path.join(CONF.state_path, "clouds.yaml"))
            image_ids = tuple(parsed_args.image_ref) if parsed_args.image_ref else None
            flavor_ids = tuple(parsed_args.flavor_ref) if parsed_args.flavor_ref else None
            resources = probe.ensure_resources(conn, image_ids, flavor_ids)
            facts = probe.probe(conn, resources)
            path = tempestconf.write(facts, tempestconf.RunSettings(workspace=workspace))
            self._progress(f"wrote {path}")
            if parsed_args.config_only:
                return ("file",), [(path,)]
            services = parsed_args.service or [s for s, kind in (("identity", "identity"),
                                                                 ("compute", "compute"), ("image", "image"),
                                                                 ("network", "network"),
                                                                 ("object-storage", "object-store"),
                                                                 ("volume", "volumev3"))
                                               if kind == "identity" or kind in facts.endpoints]
            regex = runner.selection(services, parsed_args.smoke, parsed_args.regex)
            self._progress(f"tempest run --regex '{regex}' --concurrency {parsed_args.concurrency}")
            result = runner.run(workspace, path, regex, parsed_args.venv, parsed_args.concurrency,
                                parsed_args.exclude_regex)
        except (probe.ProbeError, runner.VerifyError) as err:
            raise exception.CumuloError(f"verify: {err}") from None
        if parsed_args.output:
            shutil.copyfile(os.path.join(workspace, "results.json"), parsed_args.output)
        failures = result.failures()
        by_reason: dict[str, list[str]] = collections.defaultdict(list)
        for t in failures:
            by_reason[t.reason or "(no reason given)"].append(t.name)
        for reason, names in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            self._progress(f"{len(names)} failed: {reason}")
            for name in names:
                self._progress(f"    {name}")
        self._progress(f"tempest {result.tempest_version}, {len(result.tests)} tests in {result.duration:.0f}s; "
                       f"results: {workspace}/results.json and results.subunit")
        self._failed = bool(failures) or not result.tests
        rows = [(s.service, s.passed, s.failed, s.skipped) for s in result.summary()]
        return ("service", "passed", "failed", "skipped"), rows

    def run(self, parsed_args: argparse.Namespace) -> int:
        code = int(super().run(parsed_args) or 0)
        return code or (1 if getattr(self, "_failed", False) else 0)
