"""The EC2 Query API (``/ec2``) with unmodified boto3 (and the AWS CLI) against ``cumulo up``.

Keys come from ``openstack ec2 credentials create``; the fake hypervisor runs the instances. Each
call is checked against what the OpenStack CLI sees of the same resources.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo import registry
from cumulo.testing.cloud import CumuloCloud
from cumulo.testing.fixtures import stop_volume_exports, unavailable

boto3 = pytest.importorskip("boto3")
botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

FRONTENDS = "identity,compute,image,network,object-store,volumev3,ec2"


def _name(prefix: str) -> str:
    return f"ec2t-{prefix}-{uuid.uuid4().hex[:6]}"


def _until(what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, message or "timed out"
        time.sleep(0.5)  # identical polls within a second sign alike: identity's replay grace accepts them


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    if "ec2" not in registry.names("api"):
        unavailable("the cumulo-api-ec2 plugin is not installed")
    config: dict[str, dict[str, Any]] = {"api": {"frontends": FRONTENDS}}
    import shutil

    with_volumes = all(shutil.which(t) for t in ("qemu-img", "qemu-nbd")) and "volume" in registry.names("service")
    if with_volumes:
        config["volume"] = {"driver": "file"}
    c = CumuloCloud(tmp_path_factory.mktemp("ec2-cloud"), config=config)
    c.with_volumes = with_volumes  # type: ignore[attr-defined]
    c.start()
    try:
        yield c
    finally:
        c.stop()
        stop_volume_exports(c.state_path)


def _credentials(cloud: CumuloCloud, os_cloud: str = "cumulo") -> tuple[str, str]:
    made = cloud.openstack("ec2", "credentials", "create", os_cloud=os_cloud)
    return made["access"], made["secret"]


def _client(cloud: CumuloCloud, access: str, secret: str, **config: Any) -> Any:
    from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no types

    client = boto3.client("ec2", endpoint_url=cloud.url.rstrip("/") + "/ec2", region_name="RegionOne",
                          aws_access_key_id=access, aws_secret_access_key=secret,
                          config=Config(retries={"max_attempts": 1}, **config))
    return client


@pytest.fixture(scope="module")
def keys(cloud: CumuloCloud) -> tuple[str, str]:
    return _credentials(cloud)


@pytest.fixture(scope="module")
def ec2(cloud: CumuloCloud, keys: tuple[str, str]) -> Any:
    return _client(cloud, *keys)


def _code(err: Any) -> str:
    return str(err.value.response["Error"]["Code"])


def _status(err: Any) -> int:
    return int(err.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_catalog_and_regions_and_zones(cloud: CumuloCloud, ec2: Any) -> None:
    catalog = {c["Type"]: c for c in cloud.openstack("catalog", "list")}
    assert catalog["ec2"]["Name"] == "ec2"
    assert any(e["url"].rstrip("/").endswith("/ec2") for e in catalog["ec2"]["Endpoints"])
    regions = ec2.describe_regions()["Regions"]
    assert [r["RegionName"] for r in regions] == ["RegionOne"]
    assert regions[0]["Endpoint"].endswith("/ec2")
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    tiny = cloud.openstack("flavor", "show", "m1.tiny")
    assert types["m1.tiny"]["VCpuInfo"]["DefaultVCpus"] == tiny["vcpus"]
    assert types["m1.tiny"]["MemoryInfo"]["SizeInMiB"] == tiny["ram"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert zones and all(z["State"] == "available" and z["RegionName"] == "RegionOne" for z in zones)


@pytest.fixture(scope="module")
def image(cloud: CumuloCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("ec2-img") / "disk.raw"
    path.write_bytes(uuid.uuid4().bytes * 4096)
    made: dict[str, Any] = cloud.openstack("image", "create", "--public", "--disk-format", "raw",
                                           "--container-format", "bare", "--file", str(path), _name("img"))
    return made


def _ami(image: dict[str, Any]) -> str:
    return "ami-" + image["id"].replace("-", "")


def test_images(ec2: Any, image: dict[str, Any]) -> None:
    ami = _ami(image)
    found = ec2.describe_images(ImageIds=[ami])["Images"]
    assert [(i["ImageId"], i["Name"], i["State"], i["Public"]) for i in found] == [(ami, image["name"], "available",
                                                                                   True)]
    named = ec2.describe_images(Filters=[{"Name": "name", "Values": [image["name"][:-3] + "*"]}])["Images"]
    assert [i["ImageId"] for i in named] == [ami]
    assert ec2.describe_images(Filters=[{"Name": "state", "Values": ["failed"]}])["Images"] == []
    assert ami in [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    attr = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert attr["LaunchPermissions"] == [{"Group": "all"}]
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-" + "0" * 32])
    assert _code(err) == "InvalidAMIID.NotFound" and _status(err) == 400
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-nothex"])
    assert _code(err) == "InvalidAMIID.Malformed"


def test_deregister_image(cloud: CumuloCloud, ec2: Any, tmp_path: Any) -> None:
    path = tmp_path / "d.raw"
    path.write_bytes(b"\0" * 4096)
    made = cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file",
                           str(path), _name("dereg"))
    assert ec2.deregister_image(ImageId=_ami(made))["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert made["id"] not in cloud.openstack("image", "list", "-c", "ID", "-f", "value", json_out=False)


def test_key_pairs(cloud: CumuloCloud, ec2: Any) -> None:
    name = _name("key")
    made = ec2.create_key_pair(KeyName=name)
    assert made["KeyName"] == name and "PRIVATE KEY" in made["KeyMaterial"] and made["KeyFingerprint"]
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName=name)
    assert _code(err) == "InvalidKeyPair.Duplicate"
    shown = cloud.openstack("keypair", "show", name)
    assert shown["fingerprint"] == made["KeyFingerprint"]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName=name + "-imp", PublicKeyMaterial=public)
    listed = {k["KeyName"]: k for k in ec2.describe_key_pairs()["KeyPairs"]}
    assert {name, name + "-imp"} <= set(listed)
    assert listed[name + "-imp"]["KeyFingerprint"] == imported["KeyFingerprint"]
    one = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
    assert [k["KeyPairId"] for k in one] == [made["KeyPairId"]]
    ec2.delete_key_pair(KeyName=name + "-imp")
    with pytest.raises(ClientError) as err:
        ec2.describe_key_pairs(KeyNames=[name + "-imp"])
    assert _code(err) == "InvalidKeyPair.NotFound"


def test_signature_errors(cloud: CumuloCloud, keys: tuple[str, str]) -> None:
    access, secret = keys
    with pytest.raises(ClientError) as err:
        _client(cloud, access, secret[:-1] + ("x" if secret[-1] != "x" else "y")).describe_regions()
    assert (_code(err), _status(err)) == ("AuthFailure", 401)
    with pytest.raises(ClientError) as err:
        _client(cloud, "0" * 32, secret).describe_regions()
    assert _status(err) == 401 and _code(err) in ("AuthFailure", "InvalidClientTokenId")
    # A stale date: the request signed with a clock an hour behind.
    from unittest import mock

    import botocore.auth  # type: ignore[import-untyped]  # botocore ships no types

    def an_hour_ago() -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(hours=1)

    with mock.patch.object(botocore.auth, "get_current_datetime", an_hour_ago), \
            pytest.raises(ClientError) as err:
        _client(cloud, access, secret).describe_regions()
    assert _code(err) == "RequestExpired" and _status(err) == 400
    # A tampered signature, and a body changed after signing.
    tampered = _client(cloud, access, secret)

    def tamper(request: Any, **_: Any) -> None:
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        request.headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")

    tampered.meta.events.register("before-send.ec2.*", tamper)
    with pytest.raises(ClientError) as err:
        tampered.describe_regions()
    assert (_code(err), _status(err)) == ("AuthFailure", 401)
    changed = _client(cloud, access, secret)

    def change_body(request: Any, **_: Any) -> None:
        request.body = request.body.replace("Action=DescribeRegions", "Action=DescribeVolumes")  # same length

    changed.meta.events.register("before-send.ec2.*", change_body)
    with pytest.raises(ClientError) as err:
        changed.describe_regions()
    assert (_code(err), _status(err)) == ("AuthFailure", 401)
    # No signature at all.
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(cloud.url.rstrip("/") + "/ec2/?Action=DescribeRegions&Version=2016-11-15", timeout=30)
    assert raw.value.code == 401 and b"<Code>MissingAuthenticationToken</Code>" in raw.value.read()


def _instance_state(ec2: Any, instance_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return found if found["State"]["Name"] == state else None
    found: dict[str, Any] = _until(seen, timeout=timeout, message=f"{instance_id} never became {state}")
    return found


def _server_id(instance_id: str) -> str:
    return str(uuid.UUID(instance_id[2:]))


def test_instance_lifecycle(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    key = _name("ik")
    ec2.create_key_pair(KeyName=key)
    user_data = "#!/bin/sh\necho hello\n"
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1, KeyName=key,
                             UserData=user_data, TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                 {"Key": "Name", "Value": _name("vm")}, {"Key": "role", "Value": "web"}]}])
    inst = made["Instances"][0]
    instance_id = inst["InstanceId"]
    assert instance_id.startswith("i-") and inst["InstanceType"] == "m1.tiny" and inst["KeyName"] == key
    assert made["ReservationId"].startswith("r-") and inst["ImageId"] == _ami(image)
    # the OpenStack side sees the same server
    listed = {s["ID"]: s for s in cloud.openstack("server", "list")}
    assert _server_id(instance_id) in listed
    running = _instance_state(ec2, instance_id, "running")
    assert running["State"]["Code"] == 16
    assert {"Key": "role", "Value": "web"} in running["Tags"]
    # filters and pages
    by_tag = ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": ["web"]}])["Reservations"]
    assert instance_id in [i["InstanceId"] for r in by_tag for i in r["Instances"]]
    none = ec2.describe_instances(Filters=[{"Name": "instance-type", "Values": ["m1.xlarge"]}])["Reservations"]
    assert instance_id not in [i["InstanceId"] for r in none for i in r["Instances"]]
    attr = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    assert base64.b64decode(attr["UserData"]["Value"]).decode() == user_data
    assert ec2.describe_instance_attribute(InstanceId=instance_id,
                                           Attribute="instanceType")["InstanceType"]["Value"] == "m1.tiny"
    console = ec2.get_console_output(InstanceId=instance_id)
    assert console["InstanceId"] == instance_id
    # stop and start
    stopped = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert stopped["PreviousState"]["Name"] == "running"
    _instance_state(ec2, instance_id, "stopped")
    assert cloud.openstack("server", "show", _server_id(instance_id))["status"] == "SHUTOFF"
    ec2.start_instances(InstanceIds=[instance_id])
    _instance_state(ec2, instance_id, "running")
    ec2.reboot_instances(InstanceIds=[instance_id])
    # terminate
    gone = ec2.terminate_instances(InstanceIds=[instance_id])["TerminatingInstances"][0]
    assert gone["CurrentState"]["Name"] in ("shutting-down", "terminated")
    _until(lambda: _server_id(instance_id) not in [s["ID"] for s in cloud.openstack("server", "list")],
           message="the server was never deleted")
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=[instance_id])
    assert _code(err) == "InvalidInstanceID.NotFound"


def test_instance_errors(ec2: Any, image: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId="ami-" + "1" * 32, InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    assert _code(err) == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_ami(image), InstanceType="no.such", MinCount=1, MaxCount=1)
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1, KeyName="nokey-x")
    assert _code(err) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=500, MaxCount=500)
    assert _code(err) == "InstanceLimitExceeded" and _status(err) == 400
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=["i-123"])
    assert _code(err) == "InvalidInstanceID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.stop_instances(InstanceIds=["i-" + "2" * 32])
    assert _code(err) == "InvalidInstanceID.NotFound"


def test_describe_instances_pages(ec2: Any, image: dict[str, Any]) -> None:
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=6, MaxCount=6)
    mine = {i["InstanceId"] for i in made["Instances"]}
    assert len(mine) == 6
    try:
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            kwargs: dict[str, Any] = {"MaxResults": 5}
            if token:
                kwargs["NextToken"] = token
            page = ec2.describe_instances(**kwargs)
            pages += 1
            seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
            token = page.get("NextToken")
            if not token:
                break
        assert mine <= set(seen) and len(seen) == len(set(seen)) and pages >= 2
        grouped = [r for r in ec2.describe_instances(InstanceIds=sorted(mine))["Reservations"]]
        assert [r["ReservationId"] for r in grouped] == [made["ReservationId"]]
    finally:
        ec2.terminate_instances(InstanceIds=sorted(mine))


def test_security_groups(cloud: CumuloCloud, ec2: Any) -> None:
    name = _name("sg")
    group_id = ec2.create_security_group(GroupName=name, Description="web servers")["GroupId"]
    assert group_id.startswith("sg-")
    other = ec2.create_security_group(GroupName=name + "-peer", Description="peers")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": other}]}])
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])
    assert _code(err) == "InvalidPermission.Duplicate"
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    shown = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert shown["GroupName"] == name and shown["Description"] == "web servers"
    ingress = {(p["IpProtocol"], p.get("FromPort")): p for p in shown["IpPermissions"]}
    assert ingress[("tcp", 22)]["IpRanges"] == [{"CidrIp": "10.1.0.0/16"}]
    assert [g["GroupId"] for g in ingress[("tcp", 80)]["UserIdGroupPairs"]] == [other]
    assert ("udp", 53) in {(p["IpProtocol"], p.get("FromPort")) for p in shown["IpPermissionsEgress"]}
    # the OpenStack side: the same rules on the same group
    rules = cloud.openstack("security", "group", "rule", "list", _server_id_of_group(group_id), json_out=True)
    assert any(r["Port Range"] == "22:22" and r["IP Range"] == "10.1.0.0/16" for r in rules)
    ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])
    shown = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert ("tcp", 22) not in {(p["IpProtocol"], p.get("FromPort")) for p in shown["IpPermissions"]}
    by_name = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [group_id]
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_security_group(GroupId=other)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert _code(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=["sg-12"])
    assert _code(err) == "InvalidGroupId.Malformed"


def _server_id_of_group(group_id: str) -> str:
    return str(uuid.UUID(group_id[3:]))


def test_vpc_subnets_and_addresses(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    net = _name("net")
    cloud.openstack("network", "create", net)
    subnet = cloud.openstack("subnet", "create", "--network", net, "--subnet-range", "10.77.0.0/24", net + "-sub")
    router = _name("rt")
    cloud.openstack("router", "create", router)
    cloud.openstack("router", "set", "--external-gateway", "public", router)
    cloud.openstack("router", "add", "subnet", router, subnet["id"])
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] and vpcs[0]["VpcId"].startswith("vpc-")
    subnet_id = "subnet-" + subnet["id"].replace("-", "")
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets()["Subnets"]}
    assert subnets[subnet_id]["CidrBlock"] == "10.77.0.0/24" and subnets[subnet_id]["VpcId"] == vpcs[0]["VpcId"]
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1,
                             SubnetId=subnet_id)
    instance_id = made["Instances"][0]["InstanceId"]
    try:
        running = _instance_state(ec2, instance_id, "running")
        assert running["SubnetId"] == subnet_id and running["PrivateIpAddress"].startswith("10.77.0.")
        alloc = ec2.allocate_address(Domain="vpc")
        assert alloc["AllocationId"].startswith("eipalloc-") and alloc["Domain"] == "vpc"
        assoc = ec2.associate_address(AllocationId=alloc["AllocationId"], InstanceId=instance_id)
        assert assoc["AssociationId"].startswith("eipassoc-")
        shown = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0]
        assert shown["PublicIp"] == alloc["PublicIp"] and shown["InstanceId"] == instance_id
        assert shown["PrivateIpAddress"] == running["PrivateIpAddress"]
        fip = cloud.openstack("floating", "ip", "show", alloc["PublicIp"])
        assert fip["fixed_ip_address"] == running["PrivateIpAddress"]
        assert _instance_state(ec2, instance_id, "running")["PublicIpAddress"] == alloc["PublicIp"]
        with pytest.raises(ClientError) as err:
            ec2.release_address(AllocationId=alloc["AllocationId"])
        assert _code(err) == "InvalidIPAddress.InUse"
        ec2.disassociate_address(AssociationId=assoc["AssociationId"])
        assert "InstanceId" not in ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0]
        ec2.release_address(AllocationId=alloc["AllocationId"])
        with pytest.raises(ClientError) as err:
            ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])
        assert _code(err) == "InvalidAllocationID.NotFound"
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_volumes_and_snapshots(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    if not getattr(cloud, "with_volumes", False):
        unavailable("needs qemu-img and qemu-nbd (the file volume driver) and the volume area")
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    vol = ec2.create_volume(Size=1, AvailabilityZone=zone, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "purpose", "Value": "data"}]}])
    vol_id = vol["VolumeId"]
    assert vol_id.startswith("vol-") and vol["Size"] == 1

    def state(wanted: str) -> dict[str, Any]:
        def seen() -> dict[str, Any] | None:
            v = ec2.describe_volumes(VolumeIds=[vol_id])["Volumes"][0]
            return v if v["State"] == wanted else None
        found: dict[str, Any] = _until(seen, message=f"{vol_id} never became {wanted}")
        return found

    assert {"Key": "purpose", "Value": "data"} in state("available")["Tags"]
    assert cloud.openstack("volume", "show", str(uuid.UUID(vol_id[4:])))["size"] == 1
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    instance_id = made["Instances"][0]["InstanceId"]
    try:
        _instance_state(ec2, instance_id, "running")
        attached = ec2.attach_volume(VolumeId=vol_id, InstanceId=instance_id, Device="/dev/vdb")
        assert attached["InstanceId"] == instance_id
        state("in-use")

        def attached() -> dict[str, Any] | None:
            v = ec2.describe_volumes(VolumeIds=[vol_id])["Volumes"][0]
            return v if [a["State"] for a in v["Attachments"]] == ["attached"] else None
        in_use = _until(attached, message="the volume was never attached")
        assert [a["InstanceId"] for a in in_use["Attachments"]] == [instance_id]
        assert str(uuid.UUID(vol_id[4:])) in json.dumps(cloud.openstack("server", "show", _server_id(instance_id)))
        with pytest.raises(ClientError) as err:
            ec2.delete_volume(VolumeId=vol_id)
        assert _code(err) == "VolumeInUse"
        ec2.detach_volume(VolumeId=vol_id)
        state("available")
        snap = ec2.create_snapshot(VolumeId=vol_id, Description="before")
        snap_id = snap["SnapshotId"]
        assert snap_id.startswith("snap-") and snap["VolumeId"] == vol_id

        def snap_done() -> bool:
            return bool(ec2.describe_snapshots(SnapshotIds=[snap_id])["Snapshots"][0]["State"] == "completed")
        _until(snap_done, message="the snapshot never completed")
        assert snap_id in [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
        from_snap = ec2.create_volume(SnapshotId=snap_id, AvailabilityZone=zone)
        assert from_snap["SnapshotId"] == snap_id
        _until(lambda: ec2.describe_volumes(VolumeIds=[from_snap["VolumeId"]])["Volumes"][0]["State"] ==
               "available", message="the volume from the snapshot never became available")
        ec2.delete_volume(VolumeId=from_snap["VolumeId"])
        ec2.delete_snapshot(SnapshotId=snap_id)
        ec2.delete_volume(VolumeId=vol_id)
        with pytest.raises(ClientError) as err:
            _until(lambda: not ec2.describe_volumes(VolumeIds=[vol_id]), timeout=30)
        assert _code(err) == "InvalidVolume.NotFound"
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_tags(ec2: Any, image: dict[str, Any]) -> None:
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    instance_id = made["Instances"][0]["InstanceId"]
    try:
        ec2.create_tags(Resources=[instance_id, _ami(image)], Tags=[{"Key": "env", "Value": "test"},
                                                                    {"Key": "team", "Value": "a"}])
        tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id, _ami(image)]}])["Tags"]
        assert {(t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]) for t in tags} == {
            (instance_id, "instance", "env", "test"), (instance_id, "instance", "team", "a"),
            (_ami(image), "image", "env", "test"), (_ami(image), "image", "team", "a")}
        found = ec2.describe_images(Filters=[{"Name": "tag:env", "Values": ["test"]}])["Images"]
        assert [i["ImageId"] for i in found] == [_ami(image)]
        ec2.delete_tags(Resources=[instance_id, _ami(image)], Tags=[{"Key": "team"}])
        left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id, _ami(image)]}])["Tags"]
        assert {(t["ResourceId"], t["Key"]) for t in left} == {(instance_id, "env"), (_ami(image), "env")}
        with pytest.raises(ClientError) as err:
            ec2.create_tags(Resources=["i-" + "3" * 32], Tags=[{"Key": "a", "Value": "b"}])
        assert _code(err) == "InvalidInstanceID.NotFound"
    finally:
        ec2.delete_tags(Resources=[_ami(image)], Tags=[{"Key": "env"}])
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_other_projects_resources_are_invisible(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    project, user, password = _name("proj"), _name("user"), uuid.uuid4().hex
    cloud.openstack("project", "create", project)
    cloud.openstack("user", "create", "--project", project, "--password", password, user)
    cloud.openstack("role", "add", "--project", project, "--user", user, "member")
    cloud.add_user_cloud("ec2-other", user, password, project_name=project)
    other = _client(cloud, *_credentials(cloud, os_cloud="ec2-other"))
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    instance_id = made["Instances"][0]["InstanceId"]
    group_id = ec2.create_security_group(GroupName=_name("private"), Description="mine")["GroupId"]
    key = _name("mykey")
    ec2.create_key_pair(KeyName=key)
    try:
        theirs = [i["InstanceId"] for r in other.describe_instances()["Reservations"] for i in r["Instances"]]
        assert instance_id not in theirs
        with pytest.raises(ClientError) as err:
            other.describe_instances(InstanceIds=[instance_id])
        assert _code(err) == "InvalidInstanceID.NotFound"
        with pytest.raises(ClientError) as err:
            other.terminate_instances(InstanceIds=[instance_id])
        assert _code(err) == "InvalidInstanceID.NotFound"
        assert group_id not in [g["GroupId"] for g in other.describe_security_groups()["SecurityGroups"]]
        with pytest.raises(ClientError) as err:
            other.delete_security_group(GroupId=group_id)
        assert _code(err) == "InvalidGroup.NotFound"
        assert key not in [k["KeyName"] for k in other.describe_key_pairs()["KeyPairs"]]
        assert other.describe_vpcs()["Vpcs"][0]["VpcId"] != ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        _instance_state(ec2, instance_id, "running")  # still there, untouched
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
        ec2.delete_key_pair(KeyName=key)


def test_aws_cli(cloud: CumuloCloud, keys: tuple[str, str], image: dict[str, Any], tmp_path: Any) -> None:
    from cumulo.testing.awscli import aws_cli

    aws = aws_cli()
    access, secret = keys
    env = {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": "RegionOne",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "HOME": str(tmp_path)}

    def cli(*args: str, check: bool = True) -> Any:
        proc = cloud.run(aws, "--endpoint-url", cloud.url.rstrip("/") + "/ec2", "--output", "json", "ec2", *args,
                         env=env, check=check, timeout=120)
        return json.loads(proc.stdout) if check and proc.stdout.strip() else proc

    assert [r["RegionName"] for r in cli("describe-regions")["Regions"]] == ["RegionOne"]
    assert cli("describe-availability-zones")["AvailabilityZones"]
    found = cli("describe-images", "--image-ids", _ami(image))["Images"]
    assert [i["Name"] for i in found] == [image["name"]]
    key = _name("clikey")
    made = cli("create-key-pair", "--key-name", key)
    assert "PRIVATE KEY" in made["KeyMaterial"]
    assert key in [k["KeyName"] for k in cli("describe-key-pairs")["KeyPairs"]]
    cli("delete-key-pair", "--key-name", key)
    assert "Reservations" in cli("describe-instances", "--filters", "Name=instance-state-name,Values=running")
    failed = cli("describe-instances", "--instance-ids", "i-" + "4" * 32, check=False)
    assert failed.returncode != 0 and "InvalidInstanceID.NotFound" in failed.stderr
    bad = {**env, "AWS_SECRET_ACCESS_KEY": secret + "x"}
    proc = cloud.run(aws, "--endpoint-url", cloud.url.rstrip("/") + "/ec2", "ec2", "describe-regions", env=bad,
                     check=False, timeout=120)
    assert proc.returncode != 0 and "AuthFailure" in proc.stderr


def test_shapes_against_moto(ec2: Any, image: dict[str, Any]) -> None:
    """The keys boto3 parses from our answers are those it parses from moto's, but for what we do not model."""
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        ref = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        ref_ami = ref.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ref_run = ref.run_instances(ImageId=ref_ami, InstanceType="t2.micro", MinCount=1, MaxCount=1)
        ref_desc = ref.describe_instances()["Reservations"][0]
        ref_sg = ref.create_security_group(GroupName="g", Description="d")
        ref_group = ref.describe_security_groups(GroupIds=[ref_sg["GroupId"]])["SecurityGroups"][0]
        ref_alloc = ref.allocate_address(Domain="vpc")
        ref_addr = ref.describe_addresses()["Addresses"][0]
        ref_vpc = ref.describe_vpcs()["Vpcs"][0]
        ref_subnet = ref.describe_subnets()["Subnets"][0]
    run = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    try:
        _instance_state(ec2, instance_id, "running")
        desc = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
        group_id = ec2.create_security_group(GroupName=_name("shape"), Description="d")["GroupId"]
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        alloc = ec2.allocate_address(Domain="vpc")
        addr = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0]
        vpc = ec2.describe_vpcs()["Vpcs"][0]
        ec2.release_address(AllocationId=alloc["AllocationId"])
        ec2.delete_security_group(GroupId=group_id)
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
    # what this cloud does not model: Nitro/ENA/metadata-options/hibernation details, source/dest checks...
    not_modelled = {"EnaSupport", "HibernationOptions", "MetadataOptions", "EnclaveOptions", "SourceDestCheck",
                    "CapacityReservationSpecification", "PlatformDetails", "UsageOperation",
                    "UsageOperationUpdateTime", "MaintenanceOptions", "CurrentInstanceBootMode", "BootMode",
                    "PrivateDnsNameOptions", "IamInstanceProfile", "Platform", "PublicDnsName", "PublicIpAddress",
                    "InstanceLifecycle", "SpotInstanceRequestId", "StateTransitionReason", "Licenses",
                    "NetworkPerformanceOptions", "Operator", "Monitoring", "SriovNetSupport"}

    def missing(ours: dict[str, Any], theirs: dict[str, Any]) -> set[str]:
        return set(theirs) - set(ours) - not_modelled - {"ResponseMetadata"}

    assert missing(run, ref_run) == set()
    # a pending instance has no port yet here (compute plugs it when it builds)
    assert missing(run["Instances"][0], ref_run["Instances"][0]) <= {"PrivateIpAddress", "VpcId", "SubnetId",
                                                                     "StateReason"}
    assert missing(desc, ref_desc) == set()
    # StateReason: EC2 gives one only for a state that has a reason (moto always)
    assert missing(desc["Instances"][0], ref_desc["Instances"][0]) <= {"StateReason"}
    assert missing(desc["Instances"][0]["State"], ref_desc["Instances"][0]["State"]) == set()
    assert missing(desc["Instances"][0]["Placement"], ref_desc["Instances"][0]["Placement"]) <= {"HostId"}
    assert missing(group, ref_group) <= {"SecurityGroupArn"}
    assert missing(alloc, ref_alloc) == set()
    # moto gives an unassociated address an empty InstanceId and NetworkInterfaceId; EC2 leaves them out
    assert missing(addr, ref_addr) <= {"InstanceId", "NetworkInterfaceId"}
    assert missing(vpc, ref_vpc) <= {"Ipv6CidrBlockAssociationSet", "BlockPublicAccessStates"}
    assert ref_subnet  # DescribeSubnets is compared in test_vpc_subnets_and_addresses's own checks


def test_block_device_mapping_boots_from_a_volume(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    if not getattr(cloud, "with_volumes", False):
        unavailable("needs qemu-img and qemu-nbd (the file volume driver) and the volume area")
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1,
                             BlockDeviceMappings=[
                                 {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": True}},
                                 {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": True}}])
    instance_id = made["Instances"][0]["InstanceId"]
    try:
        running = _instance_state(ec2, instance_id, "running", timeout=120)
        assert running["RootDeviceType"] == "ebs"
        mapped = running["BlockDeviceMappings"]
        assert len(mapped) == 2 and all(m["Ebs"]["DeleteOnTermination"] for m in mapped)
        volume_ids = [m["Ebs"]["VolumeId"] for m in mapped]
        shown = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
        assert {v["State"] for v in shown} == {"in-use"}
        assert all(v["Attachments"][0]["InstanceId"] == instance_id for v in shown)
        server = cloud.openstack("server", "show", _server_id(instance_id))
        assert not server.get("image") or server["image"] in ("", "N/A (booted from volume)")
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
    _until(lambda: not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": volume_ids}])["Volumes"],
           timeout=120, message="the instance's volumes were not deleted with it")


def test_modify_groups_and_create_image(cloud: CumuloCloud, ec2: Any, image: dict[str, Any]) -> None:
    net = _name("mnet")
    cloud.openstack("network", "create", net)
    subnet = cloud.openstack("subnet", "create", "--network", net, "--subnet-range", "10.78.0.0/24", net + "-s")
    group_id = ec2.create_security_group(GroupName=_name("mod"), Description="extra")["GroupId"]
    made = ec2.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1,
                             SubnetId="subnet-" + subnet["id"].replace("-", ""))
    instance_id = made["Instances"][0]["InstanceId"]
    try:
        _instance_state(ec2, instance_id, "running")
        ec2.modify_instance_attribute(InstanceId=instance_id, Groups=[group_id])
        groups = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="groupSet")["Groups"]
        assert [g["GroupId"] for g in groups] == [group_id]
        with pytest.raises(ClientError) as err:
            ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "m1.small"})
        assert _code(err) == "Unsupported" and _status(err) == 400
        snap = ec2.create_image(InstanceId=instance_id, Name=_name("snapimg"))
        assert snap["ImageId"].startswith("ami-")
        assert str(uuid.UUID(snap["ImageId"][4:])) in cloud.openstack("image", "list", "-c", "ID", "-f", "value",
                                                                        json_out=False)
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_signature_version_2_get(cloud: CumuloCloud, keys: tuple[str, str]) -> None:
    """The Query API's older form: a GET with every parameter in the query, signed with SigV2 (HmacSHA256)."""
    import hashlib
    import hmac
    import urllib.error
    import urllib.parse
    import urllib.request

    access, secret = keys
    parts = urllib.parse.urlsplit(cloud.url)
    params = {"Action": "DescribeRegions", "Version": "2016-11-15", "AWSAccessKeyId": access,
              "SignatureMethod": "HmacSHA256", "SignatureVersion": "2",
              "Timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def signed(values: dict[str, str], key: str) -> str:
        query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                         for k, v in sorted(values.items()))
        to_sign = f"GET\n{parts.netloc}\n/ec2/\n{query}"
        sig = base64.b64encode(hmac.new(key.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()
        return f"{cloud.url.rstrip('/')}/ec2/?{query}&Signature={urllib.parse.quote(sig, safe='')}"

    with urllib.request.urlopen(signed(params, secret), timeout=30) as resp:
        body = resp.read().decode()
    assert resp.status == 200 and "<regionName>RegionOne</regionName>" in body
    assert body.count("DescribeRegionsResponse") == 2
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(signed(params, secret + "x"), timeout=30)
    assert err.value.code == 401 and b"<Code>AuthFailure</Code>" in err.value.read()


def test_a_reader_describes_but_does_not_change(cloud: CumuloCloud, image: dict[str, Any]) -> None:
    project, user, password = _name("rproj"), _name("reader"), uuid.uuid4().hex
    cloud.openstack("project", "create", project)
    cloud.openstack("user", "create", "--project", project, "--password", password, user)
    cloud.openstack("role", "add", "--project", project, "--user", user, "reader")
    # a reader may not make its own EC2 credential (Keystone's default): the administrator makes it
    made = cloud.openstack("ec2", "credentials", "create", "--user", user, "--project", project)
    reader = _client(cloud, made["access"], made["secret"])
    assert reader.describe_instances()["Reservations"] == []
    assert _ami(image) in [i["ImageId"] for i in reader.describe_images(ImageIds=[_ami(image)])["Images"]]
    with pytest.raises(ClientError) as err:
        reader.run_instances(ImageId=_ami(image), InstanceType="m1.tiny", MinCount=1, MaxCount=1)
    assert (_code(err), _status(err)) == ("UnauthorizedOperation", 403)
    with pytest.raises(ClientError) as err:
        reader.create_key_pair(KeyName=_name("rkey"))
    assert _code(err) == "UnauthorizedOperation"
