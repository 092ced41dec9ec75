"""RDS: DB instances, subnet groups and snapshots as the RDS API reference describes them.

Restores, against moto 5.2.5:

- ModifyDBInstance with an AllocatedStorage below the current one fails with
  InvalidParameterCombination, "Invalid storage size for engine name postgres and storage type
  gp2: 20" (RDS cannot shrink storage; moto shrank it).
- ModifyDBInstance with DBPortNumber moves the instance to that port: Endpoint.Port and
  DbInstancePort read it back (moto stored it under another name and kept the old port).
- DeleteDBSubnetGroup of a group that a DB instance uses fails with
  InvalidDBSubnetGroupStateFault, "Cannot delete the subnet group 'NAME' because at least one
  database instance: ID is still using it." (moto deleted it, leaving the instance with a
  subnet group that no longer exists).
- EC2 DeleteSecurityGroup of a group in a DB instance's VpcSecurityGroups fails with
  DependencyViolation, "resource sg-... has a dependent object" (the instance's network
  interface uses it; moto deleted the group).
- DeleteDBInstance needs either SkipFinalSnapshot or a FinalDBSnapshotIdentifier, not both:
  otherwise InvalidParameterCombination, "FinalDBSnapshotIdentifier is required unless
  SkipFinalSnapshot is specified." (moto deleted without a snapshot).
- RestoreDBInstanceFromDBSnapshot makes a Single-AZ instance without deletion protection or
  CopyTagsToSnapshot unless asked for them, and honours MultiAZ / DeletionProtection /
  PubliclyAccessible / CopyTagsToSnapshot / AutoMinorVersionUpgrade given as false (moto
  copied all of them from the snapshot's instance and ignored every false override).
- ModifyDBInstance with a NewDBInstanceIdentifier that another instance has fails with
  DBInstanceAlreadyExists (moto renamed anyway and silently dropped the other instance).
- Every DB instance has its own DbiResourceId, kept across renames, so a restored instance
  is told apart from the one it replaces (moto gave every instance the same one).

- ModifyDBInstance without ApplyImmediately (or with it false) leaves DBInstanceClass,
  AllocatedStorage, EngineVersion, MultiAZ and DBSubnetGroupName for the maintenance window: they are listed in
  PendingModifiedValues and the instance keeps its current values; a later modification
  with ApplyImmediately=true applies them together with its own (moto applied everything at
  once and never listed anything as pending). Other settings apply at once, as AWS does for
  most of them (security groups, deletion protection, backup retention, port, ...).
- DB parameter groups (API_ModifyDBInstance DBParameterGroupName: "The DB parameter group
  must be in the same DB parameter group family as the DB instance"; "The parameter group name
  itself is changed immediately, but the actual parameter changes are not applied until you
  reboot the instance without failover"): CreateDBInstance, ModifyDBInstance and
  RestoreDBInstanceFromDBSnapshot with a group of another family than the engine version's
  (`postgres16`, `mysql8.0`, `mariadb10.11`) fail with InvalidParameterCombination, "The
  parameter group NAME with DBParameterGroupFamily F can't be used for this instance. Use a
  parameter group with DBParameterGroupFamily G." (moto took any group); a ModifyDBInstance
  that moves an instance to another group leaves it `pending-reboot` in DBParameterGroups
  until RebootDBInstance (moto said `in-sync` at once); DeleteDBParameterGroup of a group an
  instance uses fails with InvalidDBParameterGroupState (moto deleted it); ModifyDBParameterGroup
  with more than 20 parameters fails with InvalidParameterValue (API_ModifyDBParameterGroup: "A
  maximum of 20 parameters can be modified in a single request"; moto took any number);
  DescribeDBParameterGroups of a name that does not exist fails with DBParameterGroupNotFound,
  and names match whatever their case (RDS stores them in lower case; moto answered an empty
  list).
- ModifyDBInstance with an EngineVersion of another major version (another family: 16 to 17,
  MySQL 8.0 to 8.4) without AllowMajorVersionUpgrade fails with InvalidParameterCombination,
  "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
  (API_ModifyDBInstance AllowMajorVersionUpgrade: "This parameter must be set to true when
  specifying a value for the EngineVersion parameter that is a different major version than
  the DB instance's current version"; moto upgraded anyway).

What moto already does as AWS (checked, not patched): CreateDBSnapshot / DescribeDBSnapshots
(SnapshotType "manual", Encrypted, engine, version and storage of the instance, the given
Tags or, with CopyTagsToSnapshot, the instance's), DeleteDBInstance with
FinalDBSnapshotIdentifier (a manual snapshot, the instance's tags when CopyTagsToSnapshot),
and a restore keeps the snapshot's engine, version, storage and encryption and takes
DBSubnetGroupName, VpcSecurityGroupIds, DBInstanceClass and Tags.

AWS: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
(AllocatedStorage, DBPortNumber; ApplyImmediately: "If this parameter is disabled, changes
to the DB instance are applied during the next maintenance window"),
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.DBInstance.Modifying.html
(which settings wait for the window; "pending modifications are applied ... if you
modify the DB instance with ApplyImmediately"), https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html
("you can't reduce the amount of storage for a DB instance after storage has been allocated"),
API_DeleteDBSubnetGroup.html ("The specified DB subnet group must not be associated with any DB
instances"; InvalidDBSubnetGroupStateFault), API_DeleteDBInstance.html ("SkipFinalSnapshot ...
If you don't enable this parameter, you must specify the FinalDBSnapshotIdentifier parameter";
"Specifying this parameter [FinalDBSnapshotIdentifier] and also skipping the creation of a
final DB snapshot with the SkipFinalSnapshot parameter results in an error"),
API_ModifyDBInstance.html (NewDBInstanceIdentifier; DBInstanceAlreadyExists "The user already
has a DB instance with the given identifier"), API_DBInstance.html (DbiResourceId "The AWS
Region-unique, immutable identifier for the DB instance"),
API_RestoreDBInstanceFromDBSnapshot.html ("By default, the new DB instance is created as a
Single-AZ deployment"; DeletionProtection "By default, deletion protection isn't enabled");
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html
(DependencyViolation).
"""

import random
import string
from typing import Any

from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.rds.exceptions import (
    DBInstanceAlreadyExists,
    DBParameterGroupNotFoundError,
    InvalidParameterCombination,
    RDSClientError,
)
from moto.rds.models import DBInstance, RDSBackend, rds_backends

from ._util import around

# Restore parameters that AWS defaults to false, not to the snapshot's instance's value.
_RESTORE_FALSE_BY_DEFAULT = ("multi_az", "deletion_protection", "copy_tags_to_snapshot")
# Restore parameters that moto drops when given as false.
_RESTORE_BOOLEANS = _RESTORE_FALSE_BY_DEFAULT + ("publicly_accessible", "auto_minor_version_upgrade")


# Settings ModifyDBInstance leaves for the maintenance window unless ApplyImmediately, as
# (moto keyword, PendingModifiedValues member).
_WINDOWED = (
    ("db_instance_class", "DBInstanceClass"),
    ("allocated_storage", "AllocatedStorage"),
    ("engine_version", "EngineVersion"),
    ("multi_az", "MultiAZ"),
    # API_ModifyDBInstance, DBSubnetGroupName: "The change is applied during the next
    # maintenance window, unless you enable ApplyImmediately."
    ("db_subnet_group_name", "DBSubnetGroupName"),
)


def _pending(database: DBInstance) -> dict[str, Any]:
    return database.__dict__.setdefault("_capsule_pending", {})


def _given(kwargs: Any, name: str) -> Any:
    try:
        return kwargs.get(name)
    except AttributeError:
        return None


def _family(engine: str, version: str) -> str:
    """The parameter group family of an engine version: postgres by major, others by major.minor."""
    parts = str(version).split(".")
    return f"{engine}{parts[0]}" if engine == "postgres" else f"{engine}{'.'.join(parts[:2])}"


def _check_family(backend: RDSBackend, group: str | None, engine: str | None, version: str | None) -> None:
    if not group or not engine or not version or group.startswith("default."):
        return
    found = backend.db_parameter_groups.get(group.lower())
    want = _family(engine, version)
    if found is not None and found.family and found.family != want:
        raise InvalidParameterCombination(
            f"The parameter group {found.name} with DBParameterGroupFamily {found.family} can't be used for "
            f"this instance. Use a parameter group with DBParameterGroupFamily {want}."
        )


def _apply_status(database: DBInstance) -> str:
    return database.__dict__.get("_capsule_parameters_status", "in-sync")


def _parameter_groups() -> None:
    def db_parameter_group_status_list(self: DBInstance) -> Any:
        groups = self.db_parameter_groups()
        return [{"DBParameterGroupName": g.name, "ParameterApplyStatus": _apply_status(self)} for g in groups]

    DBInstance.db_parameter_group_status_list = property(db_parameter_group_status_list)

    @around(RDSBackend, "reboot_db_instance")
    def reboot_db_instance(original: Any, self: RDSBackend, db_instance_identifier: str) -> DBInstance:
        database = original(self, db_instance_identifier)
        database.__dict__["_capsule_parameters_status"] = "in-sync"
        return database

    @around(RDSBackend, "delete_db_parameter_group")
    def delete_db_parameter_group(original: Any, self: RDSBackend, db_parameter_group_name: str) -> Any:
        name = (db_parameter_group_name or "").lower()
        if any((db.db_parameter_group_name or "").lower() == name for db in self.databases.values()):
            raise RDSClientError(
                "InvalidDBParameterGroupState",
                f"One or more database instances are still members of this parameter group "
                f"{db_parameter_group_name}, so the group cannot be deleted",
            )
        return original(self, db_parameter_group_name)

    @around(RDSBackend, "describe_db_parameter_groups")
    def describe_db_parameter_groups(original: Any, self: RDSBackend, kwargs: Any) -> Any:
        name = _given(kwargs, "db_parameter_group_name")
        if not name:
            return original(self, kwargs)
        found = [g for g in self.db_parameter_groups.values() if g.name == name.lower()]
        if not found:
            raise DBParameterGroupNotFoundError(name)
        return found

    @around(RDSBackend, "modify_db_parameter_group")
    def modify_db_parameter_group(original: Any, self: RDSBackend, name: str, parameters: Any) -> Any:
        parameters = list(parameters or [])
        if len(parameters) > 20:
            raise RDSClientError(
                "InvalidParameterValue",
                f"A maximum of 20 parameters can be modified in a single request ({len(parameters)} given).",
            )
        return original(self, name, parameters)


def apply() -> None:
    _parameter_groups()

    @around(RDSBackend, "modify_db_instance")
    def modify_db_instance(original: Any, self: RDSBackend, db_instance_identifier: str, db_kwargs: Any) -> DBInstance:
        database = self.describe_db_instances(db_instance_identifier)[0]
        group = _given(db_kwargs, "db_parameter_group_name")
        version = _given(db_kwargs, "engine_version") or database.engine_version
        _check_family(self, group, database.engine, version)
        if (
            _given(db_kwargs, "engine_version")
            and _family(database.engine, version) != _family(database.engine, database.engine_version)
            and not _given(db_kwargs, "allow_major_version_upgrade")
        ):
            raise InvalidParameterCombination(
                "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
            )
        moves_group = bool(group) and group.lower() != (database.db_parameter_group_name or "").lower()
        storage = _given(db_kwargs, "allocated_storage")
        if storage is not None and database.db_cluster_identifier is None and int(storage) < database.allocated_storage:
            raise InvalidParameterCombination(
                f"Invalid storage size for engine name {database.engine} and storage type "
                f"{database.storage_type}: {int(storage)}"
            )
        new_id = _given(db_kwargs, "new_db_instance_identifier")
        if new_id and new_id.lower() != db_instance_identifier.lower() and new_id.lower() in self.databases:
            raise DBInstanceAlreadyExists()
        port = _given(db_kwargs, "db_port_number")
        pending = _pending(database)
        if _given(db_kwargs, "apply_immediately"):
            # Pending settings go in now, under what this call asks for.
            for keyword, _ in _WINDOWED:
                if keyword in pending and _given(db_kwargs, keyword) is None:
                    db_kwargs[keyword] = pending[keyword]
            pending.clear()
        else:
            for keyword, _ in _WINDOWED:
                value = _given(db_kwargs, keyword)
                if value is not None:
                    pending[keyword] = db_kwargs.pop(keyword)
        database = original(self, db_instance_identifier, db_kwargs)
        if port is not None:
            database.port = int(port)
        if moves_group:
            database.__dict__["_capsule_parameters_status"] = "pending-reboot"
        return database

    @around(RDSBackend, "create_db_instance")
    def create_db_instance(original: Any, self: RDSBackend, db_kwargs: Any) -> DBInstance:
        _check_family(
            self,
            _given(db_kwargs, "db_parameter_group_name"),
            _given(db_kwargs, "engine"),
            _given(db_kwargs, "engine_version"),
        )
        database = original(self, db_kwargs)
        database.dbi_resource_id = "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))
        return database

    def pending_modified_values(self: DBInstance) -> dict[str, Any]:
        pending = _pending(self)
        return {member: pending[keyword] for keyword, member in _WINDOWED if keyword in pending}

    DBInstance.pending_modified_values = property(pending_modified_values)

    @around(RDSBackend, "delete_subnet_group")
    def delete_subnet_group(original: Any, self: RDSBackend, subnet_name: str) -> Any:
        name = (subnet_name or "").lower()
        for database in self.databases.values():
            used = getattr(database, "_db_subnet_group_name", None)
            if used is not None and used.lower() == name:
                raise RDSClientError(
                    "InvalidDBSubnetGroupStateFault",
                    f"Cannot delete the subnet group '{subnet_name}' because at least one database "
                    f"instance: {database.db_instance_identifier} is still using it.",
                )
        return original(self, subnet_name)

    @around(RDSBackend, "delete_db_instance")
    def delete_db_instance(
        original: Any,
        self: RDSBackend,
        db_instance_identifier: str,
        final_db_snapshot_identifier: str | None = None,
        skip_final_snapshot: bool | None = False,
        *args: Any,
        **kwargs: Any,
    ) -> DBInstance:
        if db_instance_identifier in self.databases and not self.databases[db_instance_identifier].deletion_protection:
            if not skip_final_snapshot and not final_db_snapshot_identifier:
                raise InvalidParameterCombination(
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
                )
            if skip_final_snapshot and final_db_snapshot_identifier:
                raise InvalidParameterCombination(
                    "FinalDBSnapshotIdentifier can not be specified when deleting a DB instance with "
                    "SkipFinalSnapshot enabled."
                )
        return original(
            self, db_instance_identifier, final_db_snapshot_identifier, skip_final_snapshot, *args, **kwargs
        )

    @around(RDSBackend, "restore_db_instance_from_db_snapshot")
    def restore_db_instance_from_db_snapshot(
        original: Any, self: RDSBackend, from_snapshot_id: str, overrides: Any
    ) -> DBInstance:
        database = original(self, from_snapshot_id, overrides)
        for name in _RESTORE_BOOLEANS:
            value = _given(overrides, name)
            if value is not None:
                setattr(database, name, bool(value))
            elif name in _RESTORE_FALSE_BY_DEFAULT:
                setattr(database, name, False)
        return database

    @around(SecurityGroupBackend, "_delete_security_group")
    def delete_security_group(original: Any, self: SecurityGroupBackend, vpc_id: str | None, group_id: str) -> Any:
        backend = rds_backends[self.account_id][self.region_name]
        if any(group_id in (getattr(db, "vpc_security_group_ids", None) or []) for db in backend.databases.values()):
            raise DependencyViolationError(f"resource {group_id} has a dependent object")
        return original(self, vpc_id, group_id)
