"""ElastiCache: replication groups, cache clusters and subnet groups as the ElastiCache API
reference describes them.

Restores, against moto 5.2.5 (cluster mode disabled, the one a deploy tool uses for a Valkey /
Redis OSS primary with replicas; moto's cluster-mode-enabled groups are left as they are):

- CreateReplicationGroup with NumCacheClusters=N has N member clusters `ID-001` ... `ID-00N`
  (moto ignored NumCacheClusters and made one), one node group `0001` whose members are one
  `primary` and N-1 `replica`s, a PrimaryEndpoint and a ReaderEndpoint (moto had no reader
  endpoint). Endpoints have AWS's shape: without in-transit encryption
  `ID.xxxxxx.ng.0001.use1.cache.amazonaws.com` (reader `ID-ro.xxxxxx.ng.0001...`, node
  `ID-001.xxxxxx.0001.use1...`), with it `master.ID.xxxxxx.use1...` / `replica.ID.xxxxxx.use1...`
  / `ID-001.ID.xxxxxx.use1...` (moto always used the second form); the port is `Port` or 6379.
- The member clusters exist: DescribeCacheClusters lists them with ReplicationGroupId, the
  group's CacheNodeType, Engine, EngineVersion, CacheSubnetGroupName, SecurityGroups,
  TransitEncryptionEnabled / AtRestEncryptionEnabled / AuthTokenEnabled, and one cache node
  whose endpoint is the member's read endpoint (moto created no clusters for a group).
- Every cache cluster reports `SecurityGroups` (moto stored SecurityGroupIds but never returned
  them), an EngineVersion (the engine's current default when none was asked for), and, with
  ShowCacheNodeInfo=true, its `CacheNodes` with endpoints. A memcached cluster has a
  ConfigurationEndpoint `ID.xxxxxx.cfg.use1.cache.amazonaws.com:11211` and NumCacheNodes nodes
  `ID.xxxxxx.000K.use1...` on port 11211 (moto: no endpoint, no nodes, port 6379).
  Subnets of a cache subnet group name their AvailabilityZone (moto: `{}`).
- ModifyCacheCluster exists (moto: HTTP 500): NumCacheNodes (memcached; removing nodes needs
  CacheNodeIdsToRemove, one per removed node, as AWS requires), CacheNodeType,
  SecurityGroupIds, EngineVersion, SnapshotRetentionLimit, PreferredMaintenanceWindow,
  AutoMinorVersionUpgrade, CacheParameterGroupName.
- ModifyReplicationGroup also applies SecurityGroupIds, EngineVersion,
  CacheParameterGroupName, PreferredMaintenanceWindow, SnapshotWindow and
  AutoMinorVersionUpgrade (moto ignored them), and CacheNodeType / SecurityGroupIds reach the
  member clusters. IncreaseReplicaCount / DecreaseReplicaCount exist (moto: HTTP 500):
  NewReplicaCount (0 to 5) or, for a decrease, ReplicasToRemove.
  Modifications apply at once, whatever ApplyImmediately says (there is no maintenance window
  here, as elsewhere in moto).
- Deleted replication groups and cache clusters are `deleting` for a while, then gone:
  Describe* fails with ReplicationGroupNotFoundFault / CacheClusterNotFound and the id can be
  used again (moto left them `deleting` forever). The delay is
  CAPSULE_TESTBED_ELASTICACHE_DELETE_SECONDS (read when moto starts; default 1); like the
  ECS rollouts there is no background thread: every ElastiCache call first removes what has
  finished deleting. A group's member clusters go with it (RetainPrimaryCluster keeps the
  primary as a standalone cluster). Deleting what is already deleting fails with
  InvalidReplicationGroupState / InvalidCacheClusterState. FinalSnapshotIdentifier takes a
  snapshot first (moto ignored it).
- DeleteCacheSubnetGroup exists (moto: HTTP 500); while a cache cluster or replication group
  (even one still deleting) uses the group it fails with CacheSubnetGroupInUse.
- ListTagsForResource / AddTagsToResource / RemoveTagsFromResource on the ARN of a cluster,
  replication group, subnet group or snapshot that does not exist fail with that resource's
  not-found error (moto answered an empty list / accepted the tags), and a deleted resource's
  tags go with it (moto kept them for a new resource of the same name).
- EC2 DeleteSecurityGroup of a group that a cache cluster uses fails with DependencyViolation
  (its cache nodes' network interfaces use it; moto deleted the group).

AWS: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
("NumCacheClusters: The number of nodes in the cluster"), API_ReplicationGroup.html,
API_NodeGroup.html (PrimaryEndpoint, ReaderEndpoint), API_NodeGroupMember.html (CurrentRole),
API_CacheCluster.html (ConfigurationEndpoint, CacheNodes "when ShowCacheNodeInfo is true",
SecurityGroups), API_ModifyCacheCluster.html ("If you are removing cache nodes, you must use the
CacheNodeIdsToRemove parameter"), API_ModifyReplicationGroup.html,
API_IncreaseReplicaCount.html, API_DecreaseReplicaCount.html, API_DeleteReplicationGroup.html,
API_DeleteCacheCluster.html, API_DeleteCacheSubnetGroup.html ("CacheSubnetGroupInUse: The
requested cache subnet group is currently in use"), API_ListTagsForResource.html; endpoint
formats: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.Endpoints.html and
https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Endpoints.html; security groups:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html
("If you attempt to delete a security group that is associated with an instance or network
interface ... the operation fails with DependencyViolation").
"""

import os
import random
import string
import threading
import time
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.elasticache.exceptions import (
    CacheClusterNotFound,
    CacheSubnetGroupNotFound,
    ElastiCacheException,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    ReplicationGroupNotFound,
    SnapshotNotFound,
    UserNotFound,
)
from moto.elasticache.models import (
    CacheCluster,
    CacheSubnetGroup,
    ElastiCacheBackend,
    ReplicationGroup,
    elasticache_backends,
)
from moto.elasticache.responses import ElastiCacheResponse

from ._util import around

DELETE_SECONDS_ENV = "CAPSULE_TESTBED_ELASTICACHE_DELETE_SECONDS"
DEFAULT_DELETE_SECONDS = 1.0
# What AWS picks when CreateReplicationGroup / CreateCacheCluster names no EngineVersion.
DEFAULT_ENGINE_VERSIONS = {"redis": "7.1", "valkey": "8.0", "memcached": "1.6.22"}
MAX_REPLICAS = 5

# Set by apply() from the environment.
_delete_seconds = DEFAULT_DELETE_SECONDS
# moto's server is threaded; deletions complete on reads and describe output depends on a
# per-request flag, so ElastiCache calls take turns.
_lock = threading.RLock()
# ShowCacheNodeInfo of the DescribeCacheClusters being answered (CacheNodes are shown only then).
_show_cache_nodes = False


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"


class InvalidReplicationGroupState(ElastiCacheException):
    code = "InvalidReplicationGroupState"


class InvalidCacheClusterState(ElastiCacheException):
    code = "InvalidCacheClusterState"


def _parse_seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds < 0 or seconds > 86400:
        return None
    return seconds


def _region_code(region: str) -> str:
    """us-east-1 -> use1, eu-central-1 -> euc1, ap-southeast-2 -> apse2 (as in cache hostnames)."""
    short = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c"}
    parts = region.split("-")
    if len(parts) < 3:
        return region
    middle = "".join(short.get(p, p[:1]) for p in parts[1:-1])
    for compound, code in (("northeast", "ne"), ("northwest", "nw"), ("southeast", "se"), ("southwest", "sw")):
        if parts[-2] == compound:
            middle = "".join(short.get(p, p[:1]) for p in parts[1:-2]) + code
    return f"{parts[0]}{middle}{parts[-1]}"


def _token() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=6))


def _endpoint(address: str, port: int) -> dict[str, Any]:
    return {"Address": address, "Port": port}


def _azs(backend: ElastiCacheBackend, subnet_group_name: str | None, preferred: list[str] | None) -> list[str]:
    if preferred:
        return list(preferred)
    group = backend.cache_subnet_groups.get(subnet_group_name or "")
    zones: list[str] = []
    for subnet in group.subnets if group is not None else []:
        zone = subnet.get("subnet_availability_zone")
        name = zone.get("Name") if isinstance(zone, dict) else zone
        if name and name not in zones:
            zones.append(name)
    return zones or [f"{backend.region_name}{c}" for c in "abc"]


def _security_groups(ids: list[str] | None) -> list[dict[str, str]]:
    return [{"SecurityGroupId": i, "Status": "active"} for i in ids or []]


def _drop_tags(backend: ElastiCacheBackend, arn: str) -> None:
    backend.tagging_service.delete_all_tags_for_resource(arn)


# --- replication groups (cluster mode disabled) -----------------------------------------------


def _rg_hosts(rg: ReplicationGroup, region: str) -> tuple[str, str, Any]:
    """Primary and reader addresses, and a function from member id to its node address."""
    token = rg._testbed_token
    code = _region_code(region)
    rid = rg.replication_group_id
    if rg.transit_encryption_enabled:
        return (
            f"master.{rid}.{token}.{code}.cache.amazonaws.com",
            f"replica.{rid}.{token}.{code}.cache.amazonaws.com",
            lambda member: f"{member}.{rid}.{token}.{code}.cache.amazonaws.com",
        )
    return (
        f"{rid}.{token}.ng.0001.{code}.cache.amazonaws.com",
        f"{rid}-ro.{token}.ng.0001.{code}.cache.amazonaws.com",
        lambda member: f"{member}.{token}.0001.{code}.cache.amazonaws.com",
    )


def _member_cluster(
    backend: ElastiCacheBackend, rg: ReplicationGroup, member_id: str, az: str, address: str
) -> CacheCluster:
    cluster = CacheCluster(
        account_id=backend.account_id,
        region_name=backend.region_name,
        cache_cluster_id=member_id,
        cache_node_type=rg.cache_node_type,
        replication_group_id=rg.replication_group_id,
        az_mode="single-az",
        preferred_availability_zone=az,
        num_cache_nodes=1,
        engine=rg.engine,
        engine_version=rg.engine_version,
        cache_parameter_group_name=rg.cache_parameter_group_name,
        cache_subnet_group_name=rg.cache_subnet_group_name,
        transit_encryption_enabled=rg.transit_encryption_enabled,
        network_type=rg.network_type,
        ip_discovery=rg.ip_discovery,
        snapshot_name=None,
        preferred_maintenance_window=rg.preferred_maintenance_window,
        port=rg.port,
        notification_topic_arn=rg.notification_topic_arn,
        auto_minor_version_upgrade=rg.auto_minor_version_upgrade,
        snapshot_retention_limit=0,
        snapshot_window=rg.snapshot_window,
        auth_token=None,
        outpost_mode=None,
        preferred_outpost_arn=None,
        preferred_availability_zones=None,
        cache_security_group_names=None,
        security_group_ids=list(rg.security_group_ids or []),
        tags=None,
        snapshot_arns=None,
        preferred_outpost_arns=None,
        log_delivery_configurations=[],
        cache_node_ids_to_remove=None,
        cache_node_ids_to_reboot=None,
    )
    # moto sets these for engine "redis" only.
    cluster.replication_group_id = rg.replication_group_id
    cluster.num_cache_nodes = 1
    cluster.auth_token_enabled = rg.auth_token_enabled
    cluster.at_rest_encryption_enabled = rg.at_rest_encryption_enabled
    cluster.replication_group_log_delivery_enabled = False
    cluster._testbed_nodes = [_node("0001", address, rg.port, az)]
    return cluster


def _node(node_id: str, address: str, port: int, az: str) -> dict[str, Any]:
    return {
        "CacheNodeId": node_id,
        "CacheNodeStatus": "available",
        "CacheNodeCreateTime": utcnow(),
        "Endpoint": _endpoint(address, port),
        "ParameterGroupStatus": "in-sync",
        "CustomerAvailabilityZone": az,
    }


def _add_member(backend: ElastiCacheBackend, rg: ReplicationGroup, role: str) -> None:
    taken = {int(m.rsplit("-", 1)[1]) for m in rg.member_clusters if m.rsplit("-", 1)[-1].isdigit()}
    number = next(n for n in range(1, 1000) if n not in taken)
    member_id = f"{rg.replication_group_id}-{number:03d}"
    zones = rg._testbed_azs
    az = zones[(number - 1) % len(zones)]
    _, _, node_host = _rg_hosts(rg, backend.region_name)
    address = node_host(member_id)
    rg.member_clusters.append(member_id)
    rg._testbed_members.append(
        {
            "CacheClusterId": member_id,
            "CacheNodeId": "0001",
            "ReadEndpoint": _endpoint(address, rg.port),
            "PreferredAvailabilityZone": az,
            "CurrentRole": role,
        }
    )
    backend.cache_clusters[member_id] = _member_cluster(backend, rg, member_id, az, address)


def _refresh_node_group(backend: ElastiCacheBackend, rg: ReplicationGroup) -> None:
    primary, reader, _ = _rg_hosts(rg, backend.region_name)
    rg.node_groups = [
        {
            "NodeGroupId": "0001",
            "Status": "available" if rg.status != "deleting" else "deleting",
            "PrimaryEndpoint": _endpoint(primary, rg.port),
            "ReaderEndpoint": _endpoint(reader, rg.port),
            "NodeGroupMembers": rg._testbed_members,
        }
    ]
    rg.member_clusters = [m["CacheClusterId"] for m in rg._testbed_members]
    rg.snapshotting_cluster_id = None
    if rg.snapshot_retention_limit and rg.member_clusters:
        # AWS takes snapshots on a replica when there is one.
        rg.snapshotting_cluster_id = rg.member_clusters[1 if len(rg.member_clusters) > 1 else 0]


def _is_managed(rg: ReplicationGroup) -> bool:
    return hasattr(rg, "_testbed_members")


def _replication_group(backend: ElastiCacheBackend, rg_id: str) -> ReplicationGroup:
    rg = backend.replication_groups.get(rg_id)
    if rg is None:
        raise ReplicationGroupNotFound(rg_id)
    return rg


def _managed_group(backend: ElastiCacheBackend, rg_id: str) -> ReplicationGroup:
    rg = _replication_group(backend, rg_id)
    if rg.status == "deleting":
        raise InvalidReplicationGroupState(f"Replication group {rg_id} is not in available state.")
    if not _is_managed(rg):
        raise InvalidParameterValueException(
            "The test bed changes the replica count of cluster-mode-disabled replication groups only."
        )
    return rg


def _apply_to_members(backend: ElastiCacheBackend, rg: ReplicationGroup, **attributes: Any) -> None:
    for member_id in rg.member_clusters:
        cluster = backend.cache_clusters.get(member_id)
        if cluster is not None:
            for name, value in attributes.items():
                setattr(cluster, name, value)


# --- cache clusters ---------------------------------------------------------------------


def _cluster_nodes(
    backend: ElastiCacheBackend, cluster: CacheCluster, count: int, start: int = 1
) -> list[dict[str, Any]]:
    code = _region_code(backend.region_name)
    zones = cluster._testbed_azs
    return [
        _node(
            f"{n:04d}",
            f"{cluster.cache_cluster_id}.{cluster._testbed_token}.{n:04d}.{code}.cache.amazonaws.com",
            cluster.port,
            zones[(n - 1) % len(zones)],
        )
        for n in range(start, start + count)
    ]


def _cache_nodes(cluster: CacheCluster) -> list[dict[str, Any]] | None:
    if not _show_cache_nodes:
        return None
    return getattr(cluster, "_testbed_nodes", None)


def _cache_cluster(backend: ElastiCacheBackend, cluster_id: str) -> CacheCluster:
    cluster = backend.cache_clusters.get(cluster_id)
    if cluster is None:
        raise CacheClusterNotFound(cluster_id)
    return cluster


# --- deletion -----------------------------------------------------------------------------


def _settle(backend: ElastiCacheBackend, now: float) -> None:
    """Remove what has been deleting for the delete delay."""
    for rg_id, rg in list(backend.replication_groups.items()):
        since = getattr(rg, "_testbed_deleting_since", None)
        if since is not None and now - since >= _delete_seconds:
            del backend.replication_groups[rg_id]
            _drop_tags(backend, rg.arn)
    for cluster_id, cluster in list(backend.cache_clusters.items()):
        since = getattr(cluster, "_testbed_deleting_since", None)
        if since is not None and now - since >= _delete_seconds:
            del backend.cache_clusters[cluster_id]
            _drop_tags(backend, cluster.arn)


def _mark_deleting(cluster: CacheCluster, now: float) -> None:
    cluster.cache_cluster_status = "deleting"
    cluster.status = "deleting"
    cluster._testbed_deleting_since = now


def _final_snapshot(backend: ElastiCacheBackend, name: str | None, **source: Any) -> None:
    if name:
        backend.create_snapshot(snapshot_name=name, kms_key_id=None, tags=None, **source)


# --- tags ---------------------------------------------------------------------------------


def _check_arn(backend: ElastiCacheBackend, arn: str) -> None:
    """Fail as AWS does when an ARN names a resource that does not exist."""
    parts = arn.split(":", 6)
    if len(parts) < 7:
        return  # moto's own InvalidARN check answers
    kind, name = parts[5], parts[6]
    checks = {
        "cluster": (backend.cache_clusters, CacheClusterNotFound),
        "replicationgroup": (backend.replication_groups, ReplicationGroupNotFound),
        "subnetgroup": (backend.cache_subnet_groups, CacheSubnetGroupNotFound),
        "snapshot": (backend.snapshots, SnapshotNotFound),
        "user": (backend.users, UserNotFound),
    }
    if kind in checks:
        resources, error = checks[kind]
        if name not in resources:
            raise error(name)


# --- moto hooks ---------------------------------------------------------------------------


def apply() -> None:
    global _delete_seconds
    raw = os.environ.get(DELETE_SECONDS_ENV, "").strip()
    if raw:
        seconds = _parse_seconds(raw)
        if seconds is None:
            raise SystemExit(f"moto_patched: {DELETE_SECONDS_ENV}={raw!r} is not a number of seconds from 0 to 86400")
        _delete_seconds = seconds

    # moto keeps SecurityGroupIds but its model has no `security_groups` for the serializer.
    CacheCluster.security_groups = property(lambda self: _security_groups(self.security_group_ids))
    CacheCluster.cache_nodes = property(_cache_nodes)

    @around(ElastiCacheResponse, "call_action")
    def call_action(original: Any, self: ElastiCacheResponse) -> Any:
        global _show_cache_nodes
        with _lock:
            _settle(self.elasticache_backend, time.time())
            _show_cache_nodes = False
            try:
                return original(self)
            finally:
                _show_cache_nodes = False

    @around(CacheSubnetGroup, "__init__")
    def subnet_group_init(original: Any, self: CacheSubnetGroup, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        for subnet in self.subnets:
            zone = subnet.pop("Subnet_availability_zone", None) or subnet.get("subnet_availability_zone")
            if isinstance(zone, str):
                zone = {"Name": zone}
            subnet["subnet_availability_zone"] = zone

    # Replication groups.

    @around(ElastiCacheBackend, "create_replication_group")
    def create_replication_group(original: Any, self: ElastiCacheBackend, **kwargs: Any) -> ReplicationGroup:
        rg = original(self, **kwargs)
        if rg.cluster_mode == "enabled" or (kwargs.get("num_node_groups") or 1) > 1:
            return rg
        count = kwargs.get("num_cache_clusters")
        if not count:
            replicas = kwargs.get("replicas_per_node_group")
            if replicas is None:
                configuration = (kwargs.get("node_group_configuration") or [{}])[0]
                replicas = configuration.get("ReplicaCount")
            count = int(replicas or 0) + 1
        if not 1 <= int(count) <= MAX_REPLICAS + 1:
            del self.replication_groups[rg.replication_group_id]
            _drop_tags(self, rg.arn)
            raise InvalidParameterValueException(
                f"NumCacheClusters must be between 1 and {MAX_REPLICAS + 1}, not {count}."
            )
        rg.engine_version = rg.engine_version or DEFAULT_ENGINE_VERSIONS.get(rg.engine)
        rg.security_group_ids = list(rg.security_group_ids or [])
        rg._testbed_token = _token()
        rg._testbed_azs = _azs(self, rg.cache_subnet_group_name, kwargs.get("preferred_cache_cluster_azs"))
        rg._testbed_members = []
        rg.member_clusters = []
        for n in range(int(count)):
            _add_member(self, rg, "primary" if n == 0 else "replica")
        _refresh_node_group(self, rg)
        return rg

    def modify_replication_group_extras(self: ElastiCacheResponse) -> None:
        backend = self.elasticache_backend
        rg = _replication_group(backend, self._get_param("ReplicationGroupId"))
        changes: dict[str, Any] = {}
        security_group_ids = self._get_param("SecurityGroupIds")
        if security_group_ids is not None:
            rg.security_group_ids = list(security_group_ids)
            changes["security_group_ids"] = list(security_group_ids)
        for param, attribute in (
            ("EngineVersion", "engine_version"),
            ("CacheParameterGroupName", "cache_parameter_group_name"),
            ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
            ("SnapshotWindow", "snapshot_window"),
        ):
            value = self._get_param(param)
            if value is not None:
                setattr(rg, attribute, value)
                changes[attribute] = value
        auto_minor = self._get_bool_param("AutoMinorVersionUpgrade")
        if auto_minor is not None:
            rg.auto_minor_version_upgrade = auto_minor
            changes["auto_minor_version_upgrade"] = auto_minor
        node_type = self._get_param("CacheNodeType")
        if node_type is not None:
            changes["cache_node_type"] = node_type
        engine = self._get_param("Engine")
        if engine is not None:
            changes["engine"] = engine
        if _is_managed(rg):
            _apply_to_members(backend, rg, **changes)
            _refresh_node_group(backend, rg)

    @around(ElastiCacheResponse, "modify_replication_group")
    def modify_replication_group(original: Any, self: ElastiCacheResponse) -> Any:
        rg = _replication_group(self.elasticache_backend, self._get_param("ReplicationGroupId"))
        if rg.status == "deleting":
            raise InvalidReplicationGroupState(
                f"Replication group {rg.replication_group_id} is not in available state."
            )
        result = original(self)
        modify_replication_group_extras(self)
        return result

    def increase_replica_count(self: ElastiCacheResponse) -> ActionResult:
        backend = self.elasticache_backend
        rg = _managed_group(backend, self._get_param("ReplicationGroupId"))
        current = len(rg.member_clusters) - 1
        wanted = self._get_int_param("NewReplicaCount")
        if wanted is None:
            configuration = (self._get_param("ReplicaConfiguration") or [{}])[0]
            wanted = configuration.get("NewReplicaCount")
        if wanted is None:
            raise InvalidParameterValueException("NewReplicaCount must be provided.")
        wanted = int(wanted)
        if wanted <= current:
            raise InvalidParameterValueException(
                f"The new replica count ({wanted}) must be greater than the current replica count ({current})."
            )
        if wanted > MAX_REPLICAS:
            raise InvalidParameterValueException(f"The replica count cannot exceed {MAX_REPLICAS}.")
        for _ in range(wanted - current):
            _add_member(backend, rg, "replica")
        _refresh_node_group(backend, rg)
        return ActionResult({"ReplicationGroup": rg})

    def decrease_replica_count(self: ElastiCacheResponse) -> ActionResult:
        backend = self.elasticache_backend
        rg = _managed_group(backend, self._get_param("ReplicationGroupId"))
        current = len(rg.member_clusters) - 1
        to_remove = list(self._get_param("ReplicasToRemove") or [])
        wanted = self._get_int_param("NewReplicaCount")
        if wanted is None and to_remove:
            wanted = current - len(to_remove)
        if wanted is None:
            raise InvalidParameterValueException("Either NewReplicaCount or ReplicasToRemove must be provided.")
        if wanted >= current or wanted < 0:
            raise InvalidParameterValueException(
                f"The new replica count ({wanted}) must be less than the current replica count ({current}) "
                "and not negative."
            )
        replicas = [m["CacheClusterId"] for m in rg._testbed_members if m["CurrentRole"] == "replica"]
        if to_remove:
            unknown = [r for r in to_remove if r not in replicas]
            if unknown:
                raise InvalidParameterValueException(f"{unknown[0]} is not a replica of {rg.replication_group_id}.")
            if len(to_remove) != current - wanted:
                raise InvalidParameterCombinationException(
                    "The number of ReplicasToRemove must equal the decrease of the replica count."
                )
        else:
            to_remove = replicas[wanted:]
        if wanted == 0 and rg.automatic_failover == "enabled":
            raise InvalidReplicationGroupState(
                "Replication group with automatic failover enabled must have at least one replica."
            )
        rg._testbed_members = [m for m in rg._testbed_members if m["CacheClusterId"] not in to_remove]
        for member_id in to_remove:
            backend.cache_clusters.pop(member_id, None)
        _refresh_node_group(backend, rg)
        return ActionResult({"ReplicationGroup": rg})

    @around(ElastiCacheResponse, "delete_replication_group")
    def delete_replication_group(original: Any, self: ElastiCacheResponse) -> Any:
        backend = self.elasticache_backend
        rg = _replication_group(backend, self._get_param("ReplicationGroupId"))
        if rg.status == "deleting":
            raise InvalidReplicationGroupState(
                f"Replication group {rg.replication_group_id} has status deleting which is not valid for deletion."
            )
        _final_snapshot(
            backend,
            self._get_param("FinalSnapshotIdentifier"),
            replication_group_id=rg.replication_group_id,
            cache_cluster_id=None,
        )
        retain = bool(self._get_bool_param("RetainPrimaryCluster"))
        members = list(rg.member_clusters)
        result = original(self)
        now = time.time()
        rg._testbed_deleting_since = now
        if _is_managed(rg):
            rg.member_clusters = members
            _refresh_node_group(backend, rg)
            for member in rg._testbed_members:
                cluster = backend.cache_clusters.get(member["CacheClusterId"])
                if cluster is None:
                    continue
                if retain and member["CurrentRole"] == "primary":
                    cluster.replication_group_id = None
                else:
                    _mark_deleting(cluster, now)
        return result

    # Cache clusters.

    @around(ElastiCacheBackend, "create_cache_cluster")
    def create_cache_cluster(original: Any, self: ElastiCacheBackend, **kwargs: Any) -> CacheCluster:
        if kwargs.get("engine") == "memcached" and not kwargs.get("port"):
            kwargs["port"] = 11211
        cluster = original(self, **kwargs)
        cluster.engine_version = cluster.engine_version or DEFAULT_ENGINE_VERSIONS.get(cluster.engine)
        if cluster.transit_encryption_enabled is None:
            cluster.transit_encryption_enabled = False
        cluster.at_rest_encryption_enabled = False
        if cluster.engine not in ("memcached",):
            # A standalone Valkey / Redis OSS cluster has one node (moto set it for "redis" only).
            cluster.num_cache_nodes = 1
            cluster.replication_group_id = kwargs.get("replication_group_id")
        cluster._testbed_token = _token()
        cluster._testbed_azs = _azs(
            self,
            cluster.cache_subnet_group_name,
            cluster.preferred_availability_zones
            or ([cluster.preferred_availability_zone] if cluster.preferred_availability_zone else None),
        )
        cluster.preferred_availability_zone = cluster.preferred_availability_zone or (
            "Multiple" if cluster.az_mode == "cross-az" else cluster._testbed_azs[0]
        )
        cluster._testbed_nodes = _cluster_nodes(self, cluster, cluster.num_cache_nodes)
        if cluster.engine == "memcached":
            code = _region_code(self.region_name)
            cluster.configuration_endpoint = _endpoint(
                f"{cluster.cache_cluster_id}.{cluster._testbed_token}.cfg.{code}.cache.amazonaws.com", cluster.port
            )
        return cluster

    @around(ElastiCacheResponse, "describe_cache_clusters")
    def describe_cache_clusters(original: Any, self: ElastiCacheResponse) -> Any:
        global _show_cache_nodes
        _show_cache_nodes = bool(self._get_bool_param("ShowCacheNodeInfo"))
        return original(self)

    def modify_cache_cluster(self: ElastiCacheResponse) -> ActionResult:
        backend = self.elasticache_backend
        cluster = _cache_cluster(backend, self._get_param("CacheClusterId"))
        if cluster.cache_cluster_status != "available":
            raise InvalidCacheClusterState(f"Cache cluster {cluster.cache_cluster_id} is not in available state.")
        count = self._get_int_param("NumCacheNodes")
        to_remove = list(self._get_param("CacheNodeIdsToRemove") or [])
        nodes = cluster._testbed_nodes if hasattr(cluster, "_testbed_nodes") else []
        if count is not None and count != cluster.num_cache_nodes:
            if cluster.engine != "memcached":
                raise InvalidParameterValueException(
                    f"NumCacheNodes must be 1 for engine {cluster.engine}; add replicas with a replication group."
                )
            if not 1 <= count <= 40:
                raise InvalidParameterValueException("NumCacheNodes must be between 1 and 40.")
            if count < cluster.num_cache_nodes:
                known = {n["CacheNodeId"] for n in nodes}
                if len(to_remove) != cluster.num_cache_nodes - count or not set(to_remove) <= known:
                    raise InvalidParameterCombinationException(
                        f"CacheNodeIdsToRemove must name the {cluster.num_cache_nodes - count} existing cache "
                        f"node(s) to remove when NumCacheNodes goes from {cluster.num_cache_nodes} to {count}."
                    )
                nodes = [n for n in nodes if n["CacheNodeId"] not in to_remove]
            else:
                last = max((int(n["CacheNodeId"]) for n in nodes), default=0)
                nodes = nodes + _cluster_nodes(backend, cluster, count - cluster.num_cache_nodes, start=last + 1)
            cluster._testbed_nodes = nodes
            cluster.num_cache_nodes = count
        elif to_remove:
            raise InvalidParameterCombinationException("CacheNodeIdsToRemove needs a smaller NumCacheNodes.")
        security_group_ids = self._get_param("SecurityGroupIds")
        if security_group_ids is not None:
            cluster.security_group_ids = list(security_group_ids)
        for param, attribute in (
            ("CacheNodeType", "cache_node_type"),
            ("EngineVersion", "engine_version"),
            ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
            ("CacheParameterGroupName", "cache_parameter_group_name"),
            ("SnapshotWindow", "snapshot_window"),
            ("NotificationTopicArn", "notification_topic_arn"),
        ):
            value = self._get_param(param)
            if value is not None:
                setattr(cluster, attribute, value)
        retention = self._get_int_param("SnapshotRetentionLimit")
        if retention is not None:
            cluster.snapshot_retention_limit = retention
        auto_minor = self._get_bool_param("AutoMinorVersionUpgrade")
        if auto_minor is not None:
            cluster.auto_minor_version_upgrade = auto_minor
        return ActionResult({"CacheCluster": cluster})

    @around(ElastiCacheResponse, "delete_cache_cluster")
    def delete_cache_cluster(original: Any, self: ElastiCacheResponse) -> Any:
        backend = self.elasticache_backend
        cluster = _cache_cluster(backend, self._get_param("CacheClusterId"))
        if cluster.cache_cluster_status == "deleting":
            raise InvalidCacheClusterState(
                f"Cache cluster {cluster.cache_cluster_id} has status deleting which is not valid for deletion."
            )
        _final_snapshot(
            backend,
            self._get_param("FinalSnapshotIdentifier"),
            replication_group_id=None,
            cache_cluster_id=cluster.cache_cluster_id,
        )
        result = original(self)
        _mark_deleting(cluster, time.time())
        return result

    # Subnet groups.

    def delete_cache_subnet_group(self: ElastiCacheResponse) -> EmptyResult:
        backend = self.elasticache_backend
        name = self._get_param("CacheSubnetGroupName")
        group = backend.cache_subnet_groups.get(name)
        if group is None:
            raise CacheSubnetGroupNotFound(name)
        users = list(backend.cache_clusters.values()) + list(backend.replication_groups.values())
        if any(getattr(user, "cache_subnet_group_name", None) == name for user in users):
            raise CacheSubnetGroupInUse(f"Cache subnet group {name} is currently in use by a cache cluster.")
        del backend.cache_subnet_groups[name]
        _drop_tags(backend, group.arn)
        return EmptyResult()

    # Tags.

    for action in ("list_tags_for_resource", "add_tags_to_resource", "remove_tags_from_resource"):

        def checked(original: Any, self: ElastiCacheResponse) -> Any:
            _check_arn(self.elasticache_backend, self._get_param("ResourceName") or "")
            return original(self)

        around(ElastiCacheResponse, action)(checked)

    ElastiCacheResponse.increase_replica_count = increase_replica_count
    ElastiCacheResponse.decrease_replica_count = decrease_replica_count
    ElastiCacheResponse.modify_cache_cluster = modify_cache_cluster
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group

    # EC2: a security group used by cache nodes cannot be deleted.

    @around(SecurityGroupBackend, "_delete_security_group")
    def delete_security_group(original: Any, self: SecurityGroupBackend, vpc_id: str | None, group_id: str) -> Any:
        with _lock:
            backend = elasticache_backends[self.account_id][self.region_name]
            _settle(backend, time.time())
            if any(group_id in (cluster.security_group_ids or []) for cluster in backend.cache_clusters.values()):
                raise DependencyViolationError(f"resource {group_id} has a dependent object")
        return original(self, vpc_id, group_id)
