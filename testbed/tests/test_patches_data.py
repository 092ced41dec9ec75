"""Checks of patches/elasticache.py and patches/rds.py against the running test bed (see
test_patches.py for how these tests run). Every test fails against plain moto 5.2.5.
"""

import re
import time

import pytest
from _aws import client, unique
from botocore.exceptions import ClientError


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def ec2():
    return client("ec2")


@pytest.fixture(scope="module")
def network(ec2) -> tuple[str, list[str]]:
    """The default VPC and two of its subnets."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    subnets.sort(key=lambda s: s["AvailabilityZone"])
    return vpc, [s["SubnetId"] for s in subnets[:2]]


def new_security_group(ec2, network) -> str:
    name = unique("group")  # EC2 refuses group names that start with sg-
    return ec2.create_security_group(GroupName=name, Description="testbed", VpcId=network[0])["GroupId"]


def wait_until_gone(describe, timeout: float = 10.0) -> ClientError:
    """Call `describe` until it fails; returns that error (the test fails on a timeout)."""
    deadline = time.time() + timeout
    while True:
        try:
            describe()
        except ClientError as error:
            return error
        assert time.time() < deadline, "still there after the delete delay"
        time.sleep(0.2)


# --- ElastiCache ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def elasticache():
    return client("elasticache")


@pytest.fixture
def cache_subnet_group(elasticache, network) -> str:
    name = unique("csg")
    elasticache.create_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription="testbed", SubnetIds=network[1]
    )
    return name


def arn(kind: str, name: str) -> str:
    return f"arn:aws:elasticache:us-east-1:123456789012:{kind}:{name}"


def new_replication_group(elasticache, **extra) -> tuple[str, dict]:
    group_id = unique("rg")
    params = dict(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription="testbed",
        Engine="valkey",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
    )
    params.update(extra)
    return group_id, elasticache.create_replication_group(**params)["ReplicationGroup"]


def test_elasticache_replication_group_has_its_members_and_endpoints(elasticache):
    group_id, created = new_replication_group(
        elasticache,
        Engine="redis",
        NumCacheClusters=3,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=False,
    )
    group = elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    for rg in (created, group):
        assert rg["MemberClusters"] == [f"{group_id}-001", f"{group_id}-002", f"{group_id}-003"]
        (node_group,) = rg["NodeGroups"]
        assert node_group["NodeGroupId"] == "0001"
        roles = [(m["CacheClusterId"], m["CurrentRole"]) for m in node_group["NodeGroupMembers"]]
        assert roles == [(f"{group_id}-001", "primary"), (f"{group_id}-002", "replica"), (f"{group_id}-003", "replica")]
        primary, reader = node_group["PrimaryEndpoint"], node_group["ReaderEndpoint"]
        assert re.fullmatch(rf"{group_id}\.[a-z0-9]{{6}}\.ng\.0001\.use1\.cache\.amazonaws\.com", primary["Address"])
        assert re.fullmatch(rf"{group_id}-ro\.[a-z0-9]{{6}}\.ng\.0001\.use1\.cache\.amazonaws\.com", reader["Address"])
        assert primary["Port"] == reader["Port"] == 6379
        member = node_group["NodeGroupMembers"][1]["ReadEndpoint"]
        assert re.fullmatch(rf"{group_id}-002\.[a-z0-9]{{6}}\.0001\.use1\.cache\.amazonaws\.com", member["Address"])
        assert (rg["AutomaticFailover"], rg["MultiAZ"]) == ("enabled", "enabled")
        encryption = (rg["AtRestEncryptionEnabled"], rg["TransitEncryptionEnabled"], rg["AuthTokenEnabled"])
        assert encryption == (True, False, False)
        assert (rg["CacheNodeType"], rg["Engine"]) == ("cache.t4g.small", "redis")


def test_elasticache_replication_group_members_are_cache_clusters(elasticache, ec2, network, cache_subnet_group):
    sg = new_security_group(ec2, network)
    group_id, created = new_replication_group(
        elasticache,
        EngineVersion="7.2",
        Port=6380,
        TransitEncryptionEnabled=True,
        AuthToken="a-long-enough-auth-token",
        CacheSubnetGroupName=cache_subnet_group,
        SecurityGroupIds=[sg],
    )
    node_group = created["NodeGroups"][0]
    # With in-transit encryption, AWS names the endpoints master. / replica.
    domain = r"\.[a-z0-9]{6}\.use1\.cache\.amazonaws\.com"
    assert re.fullmatch(rf"master\.{group_id}{domain}", node_group["PrimaryEndpoint"]["Address"])
    assert re.fullmatch(rf"replica\.{group_id}{domain}", node_group["ReaderEndpoint"]["Address"])
    assert node_group["PrimaryEndpoint"]["Port"] == 6380
    described = elasticache.describe_cache_clusters(CacheClusterId=f"{group_id}-002", ShowCacheNodeInfo=True)
    replica = described["CacheClusters"][0]
    assert replica["ReplicationGroupId"] == group_id
    engine = (replica["Engine"], replica["EngineVersion"], replica["CacheNodeType"])
    assert engine == ("valkey", "7.2", "cache.t4g.small")
    assert replica["CacheSubnetGroupName"] == cache_subnet_group
    assert [g["SecurityGroupId"] for g in replica["SecurityGroups"]] == [sg]
    assert (replica["TransitEncryptionEnabled"], replica["AuthTokenEnabled"]) == (True, True)
    assert replica["CacheNodes"][0]["Endpoint"] == node_group["NodeGroupMembers"][1]["ReadEndpoint"]
    listed = {c["CacheClusterId"] for c in elasticache.describe_cache_clusters()["CacheClusters"]}
    assert {f"{group_id}-001", f"{group_id}-002"} <= listed


def test_elasticache_modify_replication_group_reaches_its_members(elasticache, ec2, network):
    sg = new_security_group(ec2, network)
    group_id, _ = new_replication_group(elasticache)
    changed = elasticache.modify_replication_group(
        ReplicationGroupId=group_id,
        CacheNodeType="cache.t4g.medium",
        SecurityGroupIds=[sg],
        EngineVersion="8.0",
        AutomaticFailoverEnabled=False,
        MultiAZEnabled=False,
        SnapshotRetentionLimit=5,
        ApplyImmediately=True,
    )["ReplicationGroup"]
    settings = (changed["CacheNodeType"], changed["AutomaticFailover"], changed["MultiAZ"])
    assert settings == ("cache.t4g.medium", "disabled", "disabled")
    assert changed["SnapshotRetentionLimit"] == 5
    for member in (f"{group_id}-001", f"{group_id}-002"):
        cluster = elasticache.describe_cache_clusters(CacheClusterId=member)["CacheClusters"][0]
        assert (cluster["CacheNodeType"], cluster["EngineVersion"]) == ("cache.t4g.medium", "8.0")
        assert [g["SecurityGroupId"] for g in cluster["SecurityGroups"]] == [sg]


def test_elasticache_replica_count_increases_and_decreases(elasticache):
    group_id, _ = new_replication_group(elasticache)
    grown = elasticache.increase_replica_count(ReplicationGroupId=group_id, NewReplicaCount=3, ApplyImmediately=True)
    assert grown["ReplicationGroup"]["MemberClusters"] == [f"{group_id}-00{n}" for n in range(1, 5)]
    added = elasticache.describe_cache_clusters(CacheClusterId=f"{group_id}-004")["CacheClusters"][0]
    assert added["ReplicationGroupId"] == group_id
    shrunk = elasticache.decrease_replica_count(
        ReplicationGroupId=group_id, ReplicasToRemove=[f"{group_id}-002"], ApplyImmediately=True
    )["ReplicationGroup"]
    assert shrunk["MemberClusters"] == [f"{group_id}-001", f"{group_id}-003", f"{group_id}-004"]
    with pytest.raises(ClientError) as e:
        elasticache.describe_cache_clusters(CacheClusterId=f"{group_id}-002")
    assert error_of(e)[0] == "CacheClusterNotFound"
    members = elasticache.decrease_replica_count(ReplicationGroupId=group_id, NewReplicaCount=1, ApplyImmediately=True)
    assert len(members["ReplicationGroup"]["NodeGroups"][0]["NodeGroupMembers"]) == 2


def new_memcached(elasticache, nodes: int = 3, **extra) -> str:
    cluster_id = unique("mc")
    elasticache.create_cache_cluster(
        CacheClusterId=cluster_id, Engine="memcached", CacheNodeType="cache.t4g.micro", NumCacheNodes=nodes, **extra
    )
    return cluster_id


def test_elasticache_memcached_cluster_has_a_configuration_endpoint_and_nodes(elasticache, ec2, network):
    sg = new_security_group(ec2, network)
    cluster_id = new_memcached(elasticache, SecurityGroupIds=[sg])
    plain = elasticache.describe_cache_clusters(CacheClusterId=cluster_id)["CacheClusters"][0]
    assert "CacheNodes" not in plain  # only with ShowCacheNodeInfo, as on AWS
    cluster = elasticache.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)["CacheClusters"][0]
    endpoint = cluster["ConfigurationEndpoint"]
    assert re.fullmatch(rf"{cluster_id}\.([a-z0-9]{{6}})\.cfg\.use1\.cache\.amazonaws\.com", endpoint["Address"])
    assert endpoint["Port"] == 11211
    token = endpoint["Address"].split(".")[1]
    assert [n["CacheNodeId"] for n in cluster["CacheNodes"]] == ["0001", "0002", "0003"]
    assert cluster["CacheNodes"][1]["Endpoint"] == {
        "Address": f"{cluster_id}.{token}.0002.use1.cache.amazonaws.com",
        "Port": 11211,
    }
    assert [g["SecurityGroupId"] for g in cluster["SecurityGroups"]] == [sg]


def test_elasticache_modify_cache_cluster_changes_nodes_type_and_security_groups(elasticache, ec2, network):
    sg = new_security_group(ec2, network)
    cluster_id = new_memcached(elasticache, nodes=2)
    grown = elasticache.modify_cache_cluster(
        CacheClusterId=cluster_id,
        NumCacheNodes=3,
        CacheNodeType="cache.t4g.small",
        SecurityGroupIds=[sg],
        ApplyImmediately=True,
    )["CacheCluster"]
    assert (grown["NumCacheNodes"], grown["CacheNodeType"]) == (3, "cache.t4g.small")
    assert [g["SecurityGroupId"] for g in grown["SecurityGroups"]] == [sg]
    # Removing nodes needs their ids, as on AWS.
    with pytest.raises(ClientError) as e:
        elasticache.modify_cache_cluster(CacheClusterId=cluster_id, NumCacheNodes=2, ApplyImmediately=True)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    elasticache.modify_cache_cluster(
        CacheClusterId=cluster_id, NumCacheNodes=2, CacheNodeIdsToRemove=["0001"], ApplyImmediately=True
    )
    cluster = elasticache.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert [n["CacheNodeId"] for n in cluster["CacheNodes"]] == ["0002", "0003"]
    assert cluster["NumCacheNodes"] == 2


def test_elasticache_deleted_resources_disappear_after_deleting(elasticache):
    group_id, _ = new_replication_group(elasticache, Tags=[{"Key": "owner", "Value": "first"}])
    cluster_id = new_memcached(elasticache, nodes=1)
    deleting = elasticache.delete_replication_group(ReplicationGroupId=group_id)["ReplicationGroup"]
    assert deleting["Status"] == "deleting"
    deleted = elasticache.delete_cache_cluster(CacheClusterId=cluster_id)["CacheCluster"]
    assert deleted["CacheClusterStatus"] == "deleting"
    with pytest.raises(ClientError) as e:
        elasticache.delete_replication_group(ReplicationGroupId=group_id)
    assert error_of(e)[0] == "InvalidReplicationGroupState"
    gone = wait_until_gone(lambda: elasticache.describe_replication_groups(ReplicationGroupId=group_id))
    assert gone.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"
    gone = wait_until_gone(lambda: elasticache.describe_cache_clusters(CacheClusterId=cluster_id))
    assert gone.response["Error"]["Code"] == "CacheClusterNotFound"
    with pytest.raises(ClientError) as e:
        elasticache.describe_cache_clusters(CacheClusterId=f"{group_id}-001")
    assert error_of(e)[0] == "CacheClusterNotFound"
    # The id is free again, and the old group's tags went with it.
    new_replication_group(elasticache, ReplicationGroupId=group_id)
    assert elasticache.list_tags_for_resource(ResourceName=arn("replicationgroup", group_id))["TagList"] == []


def test_elasticache_subnet_group_in_use_cannot_be_deleted(elasticache, cache_subnet_group):
    cluster_id = new_memcached(elasticache, nodes=1, CacheSubnetGroupName=cache_subnet_group)
    with pytest.raises(ClientError) as e:
        elasticache.delete_cache_subnet_group(CacheSubnetGroupName=cache_subnet_group)
    assert error_of(e) == ("CacheSubnetGroupInUse", 400)
    elasticache.delete_cache_cluster(CacheClusterId=cluster_id)
    wait_until_gone(lambda: elasticache.describe_cache_clusters(CacheClusterId=cluster_id))
    elasticache.delete_cache_subnet_group(CacheSubnetGroupName=cache_subnet_group)
    with pytest.raises(ClientError) as e:
        elasticache.describe_cache_subnet_groups(CacheSubnetGroupName=cache_subnet_group)
    assert error_of(e)[0] == "CacheSubnetGroupNotFoundFault"


def test_elasticache_tags_by_arn_and_unknown_arns(elasticache, cache_subnet_group):
    tags = [{"Key": "owner", "Value": "capsule"}]
    group_id, _ = new_replication_group(elasticache, Tags=tags)
    cluster_id = new_memcached(elasticache, nodes=1, Tags=tags)
    elasticache.add_tags_to_resource(ResourceName=arn("subnetgroup", cache_subnet_group), Tags=tags)
    resources = (arn("replicationgroup", group_id), arn("cluster", cluster_id), arn("subnetgroup", cache_subnet_group))
    for resource in resources:
        assert elasticache.list_tags_for_resource(ResourceName=resource)["TagList"] == tags
    elasticache.add_tags_to_resource(ResourceName=arn("cluster", cluster_id), Tags=[{"Key": "env", "Value": "test"}])
    assert len(elasticache.list_tags_for_resource(ResourceName=arn("cluster", cluster_id))["TagList"]) == 2
    for kind, code in (
        ("replicationgroup", "ReplicationGroupNotFoundFault"),
        ("cluster", "CacheClusterNotFound"),
        ("subnetgroup", "CacheSubnetGroupNotFoundFault"),
    ):
        with pytest.raises(ClientError) as e:
            elasticache.list_tags_for_resource(ResourceName=arn(kind, unique("nope")))
        assert error_of(e)[0] == code
        with pytest.raises(ClientError) as e:
            elasticache.add_tags_to_resource(ResourceName=arn(kind, unique("nope")), Tags=tags)
        assert error_of(e)[0] == code


def test_ec2_security_group_of_a_cache_cluster_cannot_be_deleted(elasticache, ec2, network):
    sg = new_security_group(ec2, network)
    cluster_id = new_memcached(elasticache, nodes=1, SecurityGroupIds=[sg])
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=sg)
    assert error_of(e)[0] == "DependencyViolation"
    elasticache.delete_cache_cluster(CacheClusterId=cluster_id)
    wait_until_gone(lambda: elasticache.describe_cache_clusters(CacheClusterId=cluster_id))
    ec2.delete_security_group(GroupId=sg)


# --- RDS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rds():
    return client("rds")


@pytest.fixture
def db_subnet_group(rds, network) -> str:
    name = unique("dbsng")
    rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="testbed", SubnetIds=network[1])
    return name


def new_db(rds, **extra) -> str:
    db_id = unique("db")
    params = dict(
        DBInstanceIdentifier=db_id,
        Engine="postgres",
        EngineVersion="16.3",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=30,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )
    params.update(extra)
    rds.create_db_instance(**params)
    return db_id


def describe_db(rds, db_id: str) -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]


def test_rds_storage_cannot_shrink(rds):
    db_id = new_db(rds)
    with pytest.raises(ClientError) as e:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, AllocatedStorage=20, ApplyImmediately=True)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    message = e.value.response["Error"]["Message"]
    assert message == "Invalid storage size for engine name postgres and storage type gp2: 20"
    assert describe_db(rds, db_id)["AllocatedStorage"] == 30
    rds.modify_db_instance(DBInstanceIdentifier=db_id, AllocatedStorage=40, ApplyImmediately=True)
    assert describe_db(rds, db_id)["AllocatedStorage"] == 40


def test_rds_changes_wait_for_the_maintenance_window_unless_applied_immediately(rds):
    db_id = new_db(rds)
    rds.modify_db_instance(
        DBInstanceIdentifier=db_id, DBInstanceClass="db.t4g.small", AllocatedStorage=40, DeletionProtection=False
    )
    db = describe_db(rds, db_id)
    assert (db["DBInstanceClass"], db["AllocatedStorage"]) == ("db.t4g.micro", 30)
    assert db["PendingModifiedValues"] == {"DBInstanceClass": "db.t4g.small", "AllocatedStorage": 40}
    # A later modification applied immediately takes what was pending with it.
    rds.modify_db_instance(DBInstanceIdentifier=db_id, BackupRetentionPeriod=3, ApplyImmediately=True)
    db = describe_db(rds, db_id)
    assert (db["DBInstanceClass"], db["AllocatedStorage"], db["BackupRetentionPeriod"]) == ("db.t4g.small", 40, 3)
    assert not db.get("PendingModifiedValues")


def test_rds_subnet_group_change_waits_for_the_maintenance_window(rds, network, db_subnet_group):
    """Plain moto 5.2.5 moves the instance to the new subnet group at once and lists nothing
    as pending; AWS holds DBSubnetGroupName for the window unless ApplyImmediately."""
    before = unique("dbsng")
    rds.create_db_subnet_group(DBSubnetGroupName=before, DBSubnetGroupDescription="testbed", SubnetIds=network[1])
    db_id = new_db(rds, DBSubnetGroupName=before)
    rds.modify_db_instance(DBInstanceIdentifier=db_id, DBSubnetGroupName=db_subnet_group)
    db = describe_db(rds, db_id)
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == before
    assert db["PendingModifiedValues"] == {"DBSubnetGroupName": db_subnet_group}
    rds.modify_db_instance(DBInstanceIdentifier=db_id, ApplyImmediately=True, BackupRetentionPeriod=2)
    assert describe_db(rds, db_id)["DBSubnetGroup"]["DBSubnetGroupName"] == db_subnet_group


def test_rds_port_number_moves_the_endpoint(rds):
    db_id = new_db(rds)
    rds.modify_db_instance(DBInstanceIdentifier=db_id, DBPortNumber=6543, ApplyImmediately=True)
    db = describe_db(rds, db_id)
    assert (db["Endpoint"]["Port"], db["DbInstancePort"]) == (6543, 6543)


def test_rds_subnet_group_and_security_group_in_use_cannot_be_deleted(rds, ec2, network, db_subnet_group):
    sg = new_security_group(ec2, network)
    db_id = new_db(rds, DBSubnetGroupName=db_subnet_group, VpcSecurityGroupIds=[sg])
    with pytest.raises(ClientError) as e:
        rds.delete_db_subnet_group(DBSubnetGroupName=db_subnet_group)
    assert error_of(e) == ("InvalidDBSubnetGroupStateFault", 400)
    assert f"at least one database instance: {db_id} is still using it" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=sg)
    assert error_of(e)[0] == "DependencyViolation"
    rds.delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=True)
    rds.delete_db_subnet_group(DBSubnetGroupName=db_subnet_group)
    ec2.delete_security_group(GroupId=sg)


def test_rds_delete_needs_a_final_snapshot_or_skip(rds):
    db_id = new_db(rds, Tags=[{"Key": "owner", "Value": "capsule"}], CopyTagsToSnapshot=True)
    with pytest.raises(ClientError) as e:
        rds.delete_db_instance(DBInstanceIdentifier=db_id)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    with pytest.raises(ClientError) as e:
        rds.delete_db_instance(
            DBInstanceIdentifier=db_id, SkipFinalSnapshot=True, FinalDBSnapshotIdentifier=unique("s")
        )
    assert error_of(e) == ("InvalidParameterCombination", 400)
    final = unique("final")
    rds.delete_db_instance(DBInstanceIdentifier=db_id, FinalDBSnapshotIdentifier=final)
    snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=final)["DBSnapshots"][0]
    kept = (snapshot["SnapshotType"], snapshot["DBInstanceIdentifier"], snapshot["AllocatedStorage"])
    assert kept == ("manual", db_id, 30)
    assert snapshot["TagList"] == [{"Key": "owner", "Value": "capsule"}]


def test_rds_restore_from_snapshot_keeps_the_data_settings_and_takes_the_new_ones(rds, ec2, network, db_subnet_group):
    db_id = new_db(rds, StorageEncrypted=True, MultiAZ=True, DeletionProtection=True)
    snapshot_id = unique("snap")
    snapshot = rds.create_db_snapshot(
        DBInstanceIdentifier=db_id, DBSnapshotIdentifier=snapshot_id, Tags=[{"Key": "kind", "Value": "manual"}]
    )["DBSnapshot"]
    assert (snapshot["SnapshotType"], snapshot["Encrypted"]) == ("manual", True)
    assert snapshot["TagList"] == [{"Key": "kind", "Value": "manual"}]
    sg = new_security_group(ec2, network)
    restored_id = unique("restored")
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=restored_id,
        DBSnapshotIdentifier=snapshot_id,
        DBSubnetGroupName=db_subnet_group,
        VpcSecurityGroupIds=[sg],
        DBInstanceClass="db.t4g.small",
        Tags=[{"Key": "owner", "Value": "capsule"}],
        MultiAZ=False,
        DeletionProtection=False,
    )
    db = describe_db(rds, restored_id)
    data = (db["Engine"], db["EngineVersion"], db["AllocatedStorage"], db["StorageEncrypted"])
    assert data == ("postgres", "16.3", 30, True)
    assert (db["DBInstanceClass"], db["DBSubnetGroup"]["DBSubnetGroupName"]) == ("db.t4g.small", db_subnet_group)
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [sg]
    assert db["TagList"] == [{"Key": "owner", "Value": "capsule"}]
    assert (db["MultiAZ"], db["DeletionProtection"]) == (False, False)
    # Not asked for: AWS restores a Single-AZ instance without deletion protection.
    default_id = unique("restored")
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=default_id, DBSnapshotIdentifier=snapshot_id)
    db = describe_db(rds, default_id)
    assert (db["MultiAZ"], db["DeletionProtection"]) == (False, False)


def test_rds_rename_refuses_a_taken_identifier_and_keeps_the_resource_id(rds):
    db_id, other_id = new_db(rds), new_db(rds)
    resource_id = describe_db(rds, db_id)["DbiResourceId"]
    assert resource_id != describe_db(rds, other_id)["DbiResourceId"], "every instance has its own DbiResourceId"
    with pytest.raises(ClientError) as e:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, NewDBInstanceIdentifier=other_id, ApplyImmediately=True)
    assert error_of(e) == ("DBInstanceAlreadyExists", 400)
    assert describe_db(rds, other_id)["DbiResourceId"] != resource_id, "the other instance is still there"
    assert describe_db(rds, db_id)["DbiResourceId"] == resource_id
    renamed_id = unique("renamed")
    rds.modify_db_instance(DBInstanceIdentifier=db_id, NewDBInstanceIdentifier=renamed_id, ApplyImmediately=True)
    db = describe_db(rds, renamed_id)
    assert db["DbiResourceId"] == resource_id
    assert db["Endpoint"]["Address"].startswith(f"{renamed_id}.")
    with pytest.raises(ClientError) as e:
        describe_db(rds, db_id)
    assert error_of(e)[0] == "DBInstanceNotFound"


def new_parameter_group(rds, family: str) -> str:
    name = unique("dbpg")
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family, Description="testbed")
    return name


def test_rds_parameter_group_must_be_of_the_engine_versions_family(rds):
    mysql = new_parameter_group(rds, "mysql8.0")
    with pytest.raises(ClientError) as e:
        new_db(rds, DBParameterGroupName=mysql)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    assert "DBParameterGroupFamily postgres16" in e.value.response["Error"]["Message"]
    db_id = new_db(rds, DBParameterGroupName=new_parameter_group(rds, "postgres16"))
    with pytest.raises(ClientError) as e:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, DBParameterGroupName=mysql, ApplyImmediately=True)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    # With a major upgrade in the same call, the new version's family is the one that counts.
    rds.modify_db_instance(
        DBInstanceIdentifier=db_id,
        EngineVersion="17.2",
        AllowMajorVersionUpgrade=True,
        DBParameterGroupName=new_parameter_group(rds, "postgres17"),
        ApplyImmediately=True,
    )


def test_rds_new_parameter_group_waits_for_a_reboot(rds):
    first, second = new_parameter_group(rds, "postgres16"), new_parameter_group(rds, "postgres16")
    db_id = new_db(rds, DBParameterGroupName=first)
    groups = describe_db(rds, db_id)["DBParameterGroups"]
    assert groups == [{"DBParameterGroupName": first, "ParameterApplyStatus": "in-sync"}]
    rds.modify_db_instance(DBInstanceIdentifier=db_id, DBParameterGroupName=second, ApplyImmediately=True)
    groups = describe_db(rds, db_id)["DBParameterGroups"]
    assert groups == [{"DBParameterGroupName": second, "ParameterApplyStatus": "pending-reboot"}]
    rds.reboot_db_instance(DBInstanceIdentifier=db_id)
    assert describe_db(rds, db_id)["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"


def test_rds_parameter_group_in_use_cannot_be_deleted(rds):
    group = new_parameter_group(rds, "postgres16")
    db_id = new_db(rds, DBParameterGroupName=group)
    with pytest.raises(ClientError) as e:
        rds.delete_db_parameter_group(DBParameterGroupName=group)
    assert error_of(e) == ("InvalidDBParameterGroupState", 400)
    rds.delete_db_instance(DBInstanceIdentifier=db_id, SkipFinalSnapshot=True)
    rds.delete_db_parameter_group(DBParameterGroupName=group)


def test_rds_parameter_group_takes_20_parameters_a_call(rds):
    group = new_parameter_group(rds, "postgres16")
    many = [{"ParameterName": f"p{i}", "ParameterValue": "1", "ApplyMethod": "immediate"} for i in range(21)]
    with pytest.raises(ClientError) as e:
        rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=many)
    assert error_of(e) == ("InvalidParameterValue", 400)
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=many[:20])


def test_rds_major_upgrade_needs_allow_major_version_upgrade(rds):
    db_id = new_db(rds, Engine="mysql", EngineVersion="8.0.35")
    with pytest.raises(ClientError) as e:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, EngineVersion="8.4.3", ApplyImmediately=True)
    assert error_of(e) == ("InvalidParameterCombination", 400)
    assert describe_db(rds, db_id)["EngineVersion"] == "8.0.35"
    rds.modify_db_instance(DBInstanceIdentifier=db_id, EngineVersion="8.0.39", ApplyImmediately=True)
    rds.modify_db_instance(
        DBInstanceIdentifier=db_id, EngineVersion="8.4.3", AllowMajorVersionUpgrade=True, ApplyImmediately=True
    )
    assert describe_db(rds, db_id)["EngineVersion"] == "8.4.3"


def test_rds_describe_of_a_missing_parameter_group_is_not_found(rds):
    group = new_parameter_group(rds, "postgres16")
    found = rds.describe_db_parameter_groups(DBParameterGroupName=group.upper())["DBParameterGroups"]
    assert [g["DBParameterGroupName"] for g in found] == [group]
    rds.delete_db_parameter_group(DBParameterGroupName=group)
    with pytest.raises(ClientError) as e:
        rds.describe_db_parameter_groups(DBParameterGroupName=group)
    assert error_of(e) == ("DBParameterGroupNotFound", 404)
