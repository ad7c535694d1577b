"""``[DEFAULT]`` options: the node's identity and where its state lives.

Option modules of :mod:`cumulo.conf` import nothing but oslo.config and the
standard library, so the sample generator can read them without importing a
service.
"""

from __future__ import annotations

import os
import socket

from oslo_config import cfg

GROUP = "DEFAULT"

default_opts: list[cfg.Opt] = [
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="<hostname>",
               help="Name of this node: the name services and compute hosts register under."),
    cfg.StrOpt("state_path", default=os.path.expanduser("~/.cumulo"), sample_default="~/.cumulo",
               help="Directory for persistent state: the SQLite database, keys, image and object data."),
    cfg.BoolOpt("debug", default=False, help="Log at DEBUG level."),
    cfg.StrOpt("log_file", help="Write logs to this file instead of standard error."),
    cfg.StrOpt("region_name", default="RegionOne", help="Region in the service catalog."),
    cfg.BoolOpt("default_image", default=True,
                help="cumulo up: on the first start of a state path, build the tiny guest from Debian "
                     "packages and upload it ('cumulo image build-tiny --upload', from the "
                     "cumulo-guest-tiny plugin), in the background, so the new cloud has a bootable "
                     "image. Its progress is printed; a failure says how to retry."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, default_opts)]
