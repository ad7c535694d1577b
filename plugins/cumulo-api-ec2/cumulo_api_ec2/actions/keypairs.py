"""Key pairs on compute's (per user): create (the private key answered once), import, describe, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cumulo import exception
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call
from cumulo_api_ec2.params import apply_filters
from cumulo_api_ec2.render import iso

ACTIONS = ActionTable()

FILTERS = {"key-name": lambda k: k["keyName"], "fingerprint": lambda k: k["keyFingerprint"],
           "key-pair-id": lambda k: k["keyPairId"], "key-type": lambda k: k["keyType"]}


def _item(kp: Mapping[str, Any]) -> dict[str, Any]:
    return {"keyPairId": ids.key_pair_id(int(kp["id"])), "keyFingerprint": kp["fingerprint"],
            "keyName": kp["name"], "keyType": "rsa" if str(kp.get("public_key", "")).startswith("ssh-rsa") else
            ("ed25519" if "ed25519" in str(kp.get("public_key", "")) else "rsa"),
            "createTime": iso(kp.get("created_at")), "tagSet": []}


def _create(call: Call, name: str, public_key: str | None) -> Mapping[str, Any]:
    if len(name) > 255:
        raise errors.invalid("KeyName", name, "longer than 255 characters")
    try:
        kp: Mapping[str, Any] = call.hub.compute.create_keypair(call.ctx, name, public_key)
    except exception.Conflict:
        raise errors.Ec2Error("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.") from None
    except exception.QuotaExceeded:
        raise errors.Ec2Error("ResourceLimitExceeded", "You have reached the limit on key pairs.") from None
    except exception.Invalid as err:
        if public_key is not None:
            raise errors.Ec2Error("InvalidKey.Format", f"Key is not in valid OpenSSH public key format "
                                  f"({err.message})") from None
        raise errors.invalid("KeyName", name, err.message) from None
    return kp


@ACTIONS.register("CreateKeyPair")
def create_key_pair(call: Call) -> dict[str, Any]:
    name = call.params.required("KeyName")
    key_type = call.params.get("KeyType") or "rsa"
    if key_type != "rsa":
        raise errors.unsupported(f"KeyType {key_type}")
    kp = _create(call, name, None)
    return {"keyName": kp["name"], "keyFingerprint": kp["fingerprint"], "keyMaterial": kp.get("private_key", ""),
            "keyPairId": ids.key_pair_id(int(kp["id"])), "tagSet": []}


@ACTIONS.register("ImportKeyPair")
def import_key_pair(call: Call) -> dict[str, Any]:
    name = call.params.required("KeyName")
    material = call.params.base64("PublicKeyMaterial")
    if material is None:
        raise errors.missing("PublicKeyMaterial")
    try:
        public_key = material.decode("ascii").strip()
    except UnicodeDecodeError:
        raise errors.Ec2Error("InvalidKey.Format", "Key is not in valid OpenSSH public key format") from None
    kp = _create(call, name, public_key)
    return {"keyName": kp["name"], "keyFingerprint": kp["fingerprint"],
            "keyPairId": ids.key_pair_id(int(kp["id"])), "tagSet": []}


@ACTIONS.register("DescribeKeyPairs")
def describe_key_pairs(call: Call) -> dict[str, Any]:
    names = call.params.list("KeyName")
    pair_ids = call.params.list("KeyPairId")
    items = [_item(k) for k in call.hub.compute.list_keypairs(call.ctx)]
    for name in names:
        if not any(i["keyName"] == name for i in items):
            raise errors.Ec2Error("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")
    for pid in pair_ids:
        if not any(i["keyPairId"] == pid for i in items):
            raise errors.Ec2Error("InvalidKeyPair.NotFound", f"The key pair ID '{pid}' does not exist")
    if names:
        items = [i for i in items if i["keyName"] in names]
    if pair_ids:
        items = [i for i in items if i["keyPairId"] in pair_ids]
    return {"keySet": apply_filters(items, call.params, FILTERS)}


@ACTIONS.register("DeleteKeyPair")
def delete_key_pair(call: Call) -> dict[str, Any]:
    name = call.params.get("KeyName")
    pair_id = call.params.get("KeyPairId")
    if not name and not pair_id:
        raise errors.missing("KeyName")
    if not name:
        found = [k for k in call.hub.compute.list_keypairs(call.ctx) if ids.key_pair_id(int(k["id"])) == pair_id]
        if not found:
            return {"return": True}  # as EC2: deleting a key pair that is not there succeeds
        name = str(found[0]["name"])
    try:
        call.hub.compute.delete_keypair(call.ctx, name)
    except exception.NotFound:
        pass
    return {"return": True}
