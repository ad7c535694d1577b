"""EC2 ids: ``<prefix>-<the 32 hex digits of the platform's UUID>``, reversible without a table.

A server ``3f2a...-...`` is ``i-3f2a...`` (no dashes); parsing checks the
prefix and the 32 hex digits and gives the UUID back in its dashed form. The
default VPC of a project is ``vpc-<project id>`` (Keystone's ids are 32 hex
digits already). A malformed id is ``<Resource>ID.Malformed``; the caller
turns a lookup that finds nothing into ``.NotFound``.
"""

from __future__ import annotations

import re
import uuid

from cumulo_api_ec2 import errors

#: kind -> the id prefix AWS uses.
PREFIXES: dict[str, str] = {
    "instance": "i", "image": "ami", "volume": "vol", "snapshot": "snap", "security_group": "sg",
    "allocation": "eipalloc", "association": "eipassoc", "subnet": "subnet", "vpc": "vpc", "igw": "igw",
    "route_table": "rtb", "interface": "eni", "reservation": "r", "key_pair": "key",
}

#: kind -> (the error code of a malformed id, of an unknown one), as AWS names them.
CODES: dict[str, tuple[str, str]] = {
    "instance": ("InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound"),
    "image": ("InvalidAMIID.Malformed", "InvalidAMIID.NotFound"),
    "volume": ("InvalidVolumeID.Malformed", "InvalidVolume.NotFound"),
    "snapshot": ("InvalidSnapshotID.Malformed", "InvalidSnapshot.NotFound"),
    "security_group": ("InvalidGroupId.Malformed", "InvalidGroup.NotFound"),
    "allocation": ("InvalidAllocationID.Malformed", "InvalidAllocationID.NotFound"),
    "association": ("InvalidAssociationID.Malformed", "InvalidAssociationID.NotFound"),
    "subnet": ("InvalidSubnetID.Malformed", "InvalidSubnetID.NotFound"),
    "vpc": ("InvalidVpcID.Malformed", "InvalidVpcID.NotFound"),
    "igw": ("InvalidInternetGatewayID.Malformed", "InvalidInternetGatewayID.NotFound"),
    "route_table": ("InvalidRouteTableID.Malformed", "InvalidRouteTableID.NotFound"),
    "interface": ("InvalidNetworkInterfaceID.Malformed", "InvalidNetworkInterfaceID.NotFound"),
    "reservation": ("InvalidReservationID.Malformed", "InvalidReservationID.NotFound"),
    "key_pair": ("InvalidKeyPair.Malformed", "InvalidKeyPair.NotFound"),
}

_HEX32 = re.compile(r"[0-9a-f]{32}")


def to_ec2(kind: str, platform_id: str) -> str:
    """The EC2 id of a platform resource (``platform_id``: a UUID, dashed or not)."""
    return f"{PREFIXES[kind]}-{platform_id.replace('-', '').lower()}"


def hex_of(kind: str, ec2_id: str) -> str:
    """The 32 hex digits of ``ec2_id``. :raises errors.Ec2Error: not ``<prefix>-<32 hex>``."""
    prefix = PREFIXES[kind] + "-"
    body = ec2_id[len(prefix):] if isinstance(ec2_id, str) and ec2_id.startswith(prefix) else ""
    if not _HEX32.fullmatch(body):
        raise errors.Ec2Error(CODES[kind][0], f"Invalid id: \"{ec2_id}\" (expecting \"{prefix}...\")")
    return body


def from_ec2(kind: str, ec2_id: str) -> str:
    """The platform UUID (dashed) of ``ec2_id``. :raises errors.Ec2Error: malformed."""
    return str(uuid.UUID(hex_of(kind, ec2_id)))


def same(platform_id: str | None, other: str | None) -> bool:
    """Whether two platform ids are the same whatever their dashes."""
    return bool(platform_id) and bool(other) and \
        str(platform_id).replace("-", "").lower() == str(other).replace("-", "").lower()


def not_found(kind: str, ec2_id: str) -> errors.Ec2Error:
    """The ``.NotFound`` error of ``kind`` naming ``ec2_id``."""
    what = {"instance": "instance ID", "image": "image id", "volume": "volume", "snapshot": "snapshot",
            "security_group": "security group", "key_pair": "key pair"}.get(kind, kind.replace("_", " ") + " ID")
    return errors.Ec2Error(CODES[kind][1], f"The {what} '{ec2_id}' does not exist")


def key_pair_id(number: int) -> str:
    """A key pair's EC2 id, from its number (``key-`` and 17 hex digits, as AWS's)."""
    return f"key-{number:017x}"
