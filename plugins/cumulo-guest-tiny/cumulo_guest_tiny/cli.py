"""``cumulo image build-tiny``: build the tiny guest, and with ``--upload`` register it in the Image service."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cliff.lister import Lister

from cumulo import exception
from cumulo.conf import CONF
from cumulo_guest_tiny import build, debs, upload


class BuildTiny(Lister):
    """Build the tiny guest (kernel, initramfs, qcow2 root disk, LXC rootfs) from Debian packages."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--output", metavar="DIR",
                            help="Where the four files go (default <state_path>/images/tiny)")
        parser.add_argument("--cache-dir", metavar="DIR", default=debs.DEFAULT_CACHE,
                            help=f"Where the downloaded .deb files are kept (default {debs.DEFAULT_CACHE})")
        parser.add_argument("--force", action="store_true",
                            help="Rebuild even when the output directory holds a build of the same packages")
        parser.add_argument("--upload", action="store_true",
                            help="Also upload tiny-kernel, tiny-ramdisk, tiny and tiny-lxc to the Image service")
        parser.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD", "cumulo"),
                            help="clouds.yaml entry to upload with (default $OS_CLOUD or 'cumulo')")
        parser.add_argument("--clouds-yaml", metavar="FILE",
                            help="clouds.yaml to read (default: $OS_CLIENT_CONFIG_FILE or the standard places, "
                                 "then <state_path>/clouds.yaml)")
        parser.add_argument("--visibility", default="public", choices=("public", "private", "shared", "community"),
                            help="Visibility of uploaded images (default public)")
        return parser

    def _progress(self, message: str) -> None:
        self.app.stderr.write(f"build-tiny: {message}\n")
        self.app.stderr.flush()

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        output = parsed_args.output or os.path.join(CONF.state_path, "images", "tiny")
        try:
            image = build.build(output, parsed_args.cache_dir, self._progress, force=parsed_args.force)
        except build.BuildError as err:
            raise exception.CumuloError(f"build-tiny: {err}") from None
        rows = [(os.path.basename(p), p, os.path.getsize(p), "", "")
                for p in (image.vmlinux, image.initrd, image.qcow2, image.rootfs_tar)]
        if parsed_args.upload:
            try:
                conn = upload.connect(parsed_args.os_cloud, parsed_args.clouds_yaml,
                                      fallback=os.path.join(CONF.state_path, "clouds.yaml"))
                uploaded = upload.upload(conn, image, parsed_args.visibility, self._progress)
            except upload.UploadError as err:
                raise exception.CumuloError(f"build-tiny: {err}") from None
            rows = [(*row[:3], u.name, u.id) for row, u in zip(rows, uploaded, strict=True)]
        return ("file", "path", "size", "image", "image id"), rows
