"""Checks that the running test bed behaves as AWS where testbed/patches/ say it does.

Starts nothing: it talks to the moto of `scripts/testbed up` at $AWS_ENDPOINT_URL.
Every test fails against unpatched moto 5.2.5, except the three marked "Guard", which
pin down behaviour a patch must keep. Resources get unique names and no
test resets the emulator, so this can run beside other users of the same test bed:

    eval "$(scripts/testbed up)" && .testbed/venv/bin/python -m pytest testbed/tests -q
"""

import time

import boto3
import pytest
from _aws import client, eventually, unique
from botocore.exceptions import ClientError


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- CloudFront -----------------------------------------------------------------------


@pytest.fixture
def cloudfront():
    return client("cloudfront")


def distribution_config(origin: dict, enabled: bool = True) -> dict:
    return {
        "CallerReference": unique("ref"),
        "Comment": "testbed",
        "Enabled": enabled,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": origin["Id"],
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }


def s3_origin(oac_id: str = "") -> dict:
    origin = {
        "Id": "site",
        "DomainName": f"{unique('bucket')}.s3.us-east-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    if oac_id:
        origin["OriginAccessControlId"] = oac_id
    return origin


def new_distribution(cloudfront, origin: dict | None = None) -> str:
    config = distribution_config(origin or s3_origin())
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def test_cloudfront_origin_keeps_origin_access_control_and_s3_origin_config(cloudfront):
    oac_id = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": unique("oac"),
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    dist_id = new_distribution(cloudfront, s3_origin(oac_id))

    from_config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]["Origins"]["Items"][0]
    from_distribution = cloudfront.get_distribution(Id=dist_id)["Distribution"]["DistributionConfig"][
        "Origins"
    ]["Items"][0]

    for origin in (from_config, from_distribution):
        assert origin["OriginAccessControlId"] == oac_id
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_cloudfront_origin_without_origin_access_control_reads_back_empty(cloudfront):
    dist_id = new_distribution(cloudfront)
    origin = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]["Origins"]["Items"][0]
    assert origin["OriginAccessControlId"] == ""
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_cloudfront_update_gives_a_new_etag_and_checks_if_match(cloudfront):
    dist_id = new_distribution(cloudfront)
    current = cloudfront.get_distribution_config(Id=dist_id)
    config, first_etag = current["DistributionConfig"], current["ETag"]

    config["Comment"] = "changed"
    updated = cloudfront.update_distribution(Id=dist_id, DistributionConfig=config, IfMatch=first_etag)
    assert updated["ETag"] != first_etag
    assert cloudfront.get_distribution_config(Id=dist_id)["ETag"] == updated["ETag"]

    with pytest.raises(ClientError) as stale:
        cloudfront.update_distribution(Id=dist_id, DistributionConfig=config, IfMatch=first_etag)
    assert error_of(stale) == ("PreconditionFailed", 412)


def test_cloudfront_delete_refuses_an_enabled_distribution(cloudfront):
    dist_id = new_distribution(cloudfront)
    etag = cloudfront.get_distribution_config(Id=dist_id)["ETag"]

    with pytest.raises(ClientError) as enabled:
        cloudfront.delete_distribution(Id=dist_id, IfMatch=etag)
    assert error_of(enabled) == ("DistributionNotDisabled", 409)
    assert cloudfront.get_distribution(Id=dist_id)["Distribution"]["Id"] == dist_id


def test_cloudfront_delete_after_disabling_needs_the_current_etag(cloudfront):
    dist_id = new_distribution(cloudfront)
    current = cloudfront.get_distribution_config(Id=dist_id)
    config, etag_while_enabled = current["DistributionConfig"], current["ETag"]
    config["Enabled"] = False
    etag_disabled = cloudfront.update_distribution(
        Id=dist_id, DistributionConfig=config, IfMatch=etag_while_enabled
    )["ETag"]

    with pytest.raises(ClientError) as stale:
        cloudfront.delete_distribution(Id=dist_id, IfMatch=etag_while_enabled)
    assert error_of(stale) == ("PreconditionFailed", 412)

    cloudfront.delete_distribution(Id=dist_id, IfMatch=etag_disabled)
    with pytest.raises(ClientError) as gone:
        cloudfront.get_distribution(Id=dist_id)
    assert error_of(gone)[0] == "NoSuchDistribution"


def test_cloudfront_invalidation_completes_and_the_sdk_waiter_sees_it(cloudfront):
    dist_id = new_distribution(cloudfront)
    invalidation = cloudfront.create_invalidation(
        DistributionId=dist_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/index.html"]},
            "CallerReference": unique("inv"),
        },
    )["Invalidation"]
    assert invalidation["Status"] == "Completed"

    cloudfront.get_waiter("invalidation_completed").wait(
        DistributionId=dist_id, Id=invalidation["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    listed = cloudfront.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Items"]
    assert [item["Status"] for item in listed] == ["Completed"]


# --- Route 53 ---------------------------------------------------------------------------


@pytest.fixture
def route53():
    return client("route53")


@pytest.fixture
def zone(route53):
    name = f"{unique('zone')}.example.com"
    zone_id = route53.create_hosted_zone(Name=name, CallerReference=unique("ref"))["HostedZone"]["Id"]
    return zone_id, name


def record(name: str, value: str, ttl: int = 300, type_: str = "A") -> dict:
    return {"Name": name, "Type": type_, "TTL": ttl, "ResourceRecords": [{"Value": value}]}


def change(route53, zone_id: str, *changes: tuple[str, dict]) -> dict:
    """One change batch, sent again while Route 53 is still processing the zone's previous
    one (PriorRequestNotComplete, patches/route53.py), as every client must."""
    return eventually(
        lambda: route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": rrset} for action, rrset in changes]},
        ),
        codes=("PriorRequestNotComplete",),
    )


def test_route53_a_change_is_pending_then_insync(route53, zone):
    """patches/route53.py (route53-change-status). Plain moto: one fixed change id, INSYNC at once."""
    zone_id, zone_name = zone
    first = change(route53, zone_id, ("CREATE", record(f"a.{zone_name}", "192.0.2.1")))["ChangeInfo"]
    second = change(route53, zone_id, ("CREATE", record(f"b.{zone_name}", "192.0.2.1")))["ChangeInfo"]
    assert first["Status"] == "PENDING" and first["Id"] != second["Id"]
    assert route53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "PENDING"
    route53.get_waiter("resource_record_sets_changed").wait(Id=first["Id"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    assert route53.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC"


def records_named(route53, zone_id: str, name: str) -> list[dict]:
    sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [rrset for rrset in sets if rrset["Name"] == name + "."]


def test_route53_create_of_an_existing_record_fails(route53, zone):
    zone_id, zone_name = zone
    www = f"www.{zone_name}"
    change(route53, zone_id, ("CREATE", record(www, "192.0.2.1")))

    for duplicate in (record(www, "192.0.2.2"), record(www.upper(), "192.0.2.1")):
        with pytest.raises(ClientError) as exists:
            change(route53, zone_id, ("CREATE", duplicate))
        assert error_of(exists) == ("InvalidChangeBatch", 400)
        assert "already exists" in exists.value.response["Error"]["Message"]

    assert [r["ResourceRecords"] for r in records_named(route53, zone_id, www)] == [[{"Value": "192.0.2.1"}]]


# Guard: moto already did this; the patch must not break it.
def test_route53_a_failing_batch_changes_nothing(route53, zone):
    zone_id, zone_name = zone
    change(route53, zone_id, ("CREATE", record(f"www.{zone_name}", "192.0.2.1")))

    with pytest.raises(ClientError):
        change(
            route53,
            zone_id,
            ("CREATE", record(f"api.{zone_name}", "192.0.2.9")),
            ("CREATE", record(f"www.{zone_name}", "192.0.2.1")),
        )
    assert records_named(route53, zone_id, f"api.{zone_name}") == []


# Guard: moto already did this; the patch must not break it.
def test_route53_delete_then_create_in_one_batch_replaces_a_record(route53, zone):
    zone_id, zone_name = zone
    www = f"www.{zone_name}"
    change(route53, zone_id, ("CREATE", record(www, "192.0.2.1")))
    change(route53, zone_id, ("DELETE", record(www, "192.0.2.1")), ("CREATE", record(www, "192.0.2.2")))
    assert [r["ResourceRecords"] for r in records_named(route53, zone_id, www)] == [[{"Value": "192.0.2.2"}]]


def test_route53_a_deleted_record_can_be_created_again(route53, zone):
    zone_id, zone_name = zone
    www = f"www.{zone_name}"
    # A record sorting after it is what made moto refuse the second CREATE.
    later = record(f"zzz.{zone_name}", "192.0.2.3")
    change(route53, zone_id, ("CREATE", record(www, "192.0.2.1")), ("CREATE", later))
    change(route53, zone_id, ("DELETE", record(www, "192.0.2.1")))
    change(route53, zone_id, ("CREATE", record(www, "192.0.2.1")))
    assert len(records_named(route53, zone_id, www)) == 1


def test_route53_delete_of_a_missing_record_fails(route53, zone):
    zone_id, zone_name = zone
    www = f"www.{zone_name}"
    change(route53, zone_id, ("CREATE", record(www, "192.0.2.1")))
    change(route53, zone_id, ("DELETE", record(www, "192.0.2.1")))

    with pytest.raises(ClientError) as missing:
        change(route53, zone_id, ("DELETE", record(www, "192.0.2.1")))
    assert error_of(missing) == ("InvalidChangeBatch", 400)
    assert "not found" in missing.value.response["Error"]["Message"]


# --- ECS --------------------------------------------------------------------------------


@pytest.fixture
def ecs():
    return client("ecs")


@pytest.fixture
def cluster(ecs):
    # These tests check settled services: rollouts in this cluster complete at once.
    # test_ecs_rollout.py checks the rollouts themselves.
    name = unique("cluster")
    ecs.create_cluster(clusterName=name, tags=[{"key": "capsule.testbed/rollout-seconds", "value": "0"}])
    return name


def register(ecs, family: str, image: str = "nginx:1.27") -> str:
    return ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]


def new_service(ecs, cluster: str, desired: int, **parameters) -> None:
    task_definition = parameters.pop("taskDefinition", None) or register(ecs, unique("api"))
    ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=task_definition, desiredCount=desired, **parameters
    )


def describe(ecs, cluster: str, service: str) -> dict:
    return ecs.describe_services(cluster=cluster, services=[service])["services"][0]


def test_ecs_create_cluster_on_an_existing_name_returns_it_unchanged(ecs):
    name = unique("cluster")
    created = ecs.create_cluster(clusterName=name, tags=[{"key": "managed-by", "value": "capsule"}])[
        "cluster"
    ]

    again = ecs.create_cluster(clusterName=name)["cluster"]

    assert again["clusterArn"] == created["clusterArn"]
    assert ecs.list_tags_for_resource(resourceArn=created["clusterArn"])["tags"] == [
        {"key": "managed-by", "value": "capsule"}
    ]


# Guard: moto already did this; the patch must not break it.
def test_ecs_create_cluster_after_delete_gives_a_new_active_cluster(ecs):
    name = unique("cluster")
    ecs.create_cluster(clusterName=name, tags=[{"key": "old", "value": "yes"}])
    ecs.delete_cluster(cluster=name)
    created = ecs.create_cluster(clusterName=name)["cluster"]
    assert created["status"] == "ACTIVE"
    assert ecs.list_tags_for_resource(resourceArn=created["clusterArn"]).get("tags", []) == []


def test_ecs_service_keeps_deployment_configuration_and_grace_period(ecs, cluster):
    configuration = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    new_service(
        ecs, cluster, desired=2, deploymentConfiguration=configuration, healthCheckGracePeriodSeconds=30
    )
    service = describe(ecs, cluster, "api")
    assert service["deploymentConfiguration"] == configuration
    assert service["healthCheckGracePeriodSeconds"] == 30

    ecs.update_service(
        cluster=cluster,
        service="api",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
        healthCheckGracePeriodSeconds=60,
    )
    service = describe(ecs, cluster, "api")
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    assert service["healthCheckGracePeriodSeconds"] == 60


def test_ecs_service_without_deployment_configuration_reads_back_the_defaults(ecs, cluster):
    new_service(ecs, cluster, desired=1)
    assert describe(ecs, cluster, "api")["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }


def test_ecs_service_reaches_a_steady_state(ecs, cluster):
    new_service(ecs, cluster, desired=2)

    service = describe(ecs, cluster, "api")
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    [deployment] = service["deployments"]
    assert (deployment["status"], deployment["rolloutState"]) == ("PRIMARY", "COMPLETED")
    assert deployment["runningCount"] == 2
    assert "has reached a steady state" in service["events"][0]["message"]
    stable = ecs.get_waiter("services_stable")
    stable.wait(cluster=cluster, services=["api"], WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["runningTasksCount"] == 2


def test_ecs_update_rolls_out_a_new_task_definition_by_arn(ecs, cluster):
    family = unique("api")
    first = register(ecs, family)
    new_service(ecs, cluster, desired=1, taskDefinition=first)
    first_deployment = describe(ecs, cluster, "api")["deployments"][0]["id"]
    second = register(ecs, family, image="nginx:1.28")

    ecs.update_service(cluster=cluster, service="api", taskDefinition=f"{family}:2", desiredCount=3)

    service = describe(ecs, cluster, "api")
    assert service["taskDefinition"] == second
    [deployment] = service["deployments"]
    assert deployment["id"] != first_deployment
    assert (deployment["taskDefinition"], deployment["rolloutState"]) == (second, "COMPLETED")
    assert (service["runningCount"], deployment["runningCount"], deployment["desiredCount"]) == (3, 3, 3)
    assert ecs.describe_clusters(clusters=[cluster])["clusters"][0]["runningTasksCount"] == 3


def test_ecs_scaling_alone_starts_no_new_deployment(ecs, cluster):
    new_service(ecs, cluster, desired=1)
    before = describe(ecs, cluster, "api")["deployments"][0]["id"]
    ecs.update_service(cluster=cluster, service="api", desiredCount=4)
    service = describe(ecs, cluster, "api")
    assert service["deployments"][0]["id"] == before
    assert (service["runningCount"], service["deployments"][0]["runningCount"]) == (4, 4)


def test_ecs_fargate_service_without_security_groups_is_accepted(ecs, cluster):
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    subnets = [subnet["SubnetId"] for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]]
    without_security_groups = {"awsvpcConfiguration": {"subnets": subnets[:2], "assignPublicIp": "ENABLED"}}
    new_service(ecs, cluster, desired=1, launchType="FARGATE", networkConfiguration=without_security_groups)
    assert describe(ecs, cluster, "api")["networkConfiguration"] == without_security_groups


# --- S3 ---------------------------------------------------------------------------------


def test_s3_delete_objects_refuses_more_than_1000_keys():
    s3 = client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    keys = [{"Key": "keep"}] + [{"Key": f"k{i}"} for i in range(1000)]

    with pytest.raises(ClientError) as too_many:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    assert error_of(too_many) == ("MalformedXML", 400)
    assert s3.head_object(Bucket=bucket, Key="keep")["ContentLength"] == 1

    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[:1000]})["Deleted"]
    assert len(deleted) == 1000


# --- S3: CreateBucket tags, GetBucketVersioning of a new bucket -------------------------


def test_s3_create_bucket_applies_its_tags():
    s3 = client("s3")
    name = unique("tagged")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"Tags": [{"Key": "managed-by", "Value": "capsule"}]})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "managed-by", "Value": "capsule"}]


def test_s3_versioning_of_a_new_bucket_is_an_empty_configuration():
    import urllib.request  # noqa: PLC0415

    from _aws import ENDPOINT  # noqa: PLC0415

    s3 = client("s3")
    name = unique("vers")
    s3.create_bucket(Bucket=name)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    # The root element is what the AWS SDKs parse (boto3 tolerates any, the Rust SDK not).
    body = urllib.request.urlopen(f"{ENDPOINT}/{name}?versioning").read().decode()
    assert "<VersioningConfiguration" in body, body


def test_ses_domain_verification_token_is_the_identitys_own():
    ses = client("ses")
    ses_eu = boto3.client(
        "ses",
        endpoint_url=ses.meta.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    domain, other = f"{unique('tok')}.example.com", f"{unique('tok')}.example.com"
    token = ses.verify_domain_identity(Domain=domain)["VerificationToken"]
    read = ses.get_identity_verification_attributes(Identities=[domain])["VerificationAttributes"]
    assert read[domain]["VerificationToken"] == token
    assert ses.verify_domain_identity(Domain=domain)["VerificationToken"] == token, "kept while the identity exists"
    assert ses.verify_domain_identity(Domain=other)["VerificationToken"] != token, "each domain has its own"
    assert ses_eu.verify_domain_identity(Domain=domain)["VerificationToken"] != token, "each region has its own"
    ses.delete_identity(Identity=domain)
    assert ses.verify_domain_identity(Domain=domain)["VerificationToken"] != token, "new after a delete"


def test_logs_filter_by_stream_name_prefix():
    logs = client("logs")
    group = f"/testbed/{unique('lg')}"
    logs.create_log_group(logGroupName=group)
    for stream, message in [("api/api/1", "from api"), ("nightly/nightly/2", "from the job")]:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": int(time.time() * 1000), "message": message}]
        )
    found = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="api/")["events"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [("api/api/1", "from api")]
    assert logs.filter_log_events(logGroupName=group, logStreamNamePrefix="none/")["events"] == []
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName=group, logStreamNamePrefix="api/", logStreamNames=["api/api/1"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
