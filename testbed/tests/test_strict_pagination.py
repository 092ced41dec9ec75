"""Checks of patches/pagination.py: List/Describe calls answer at most AWS's default page.

Every test fails against plain moto 5.2.5 (checked against `.testbed/venv/bin/moto_server -p
5399`: moto answers every item in one page, with no token, and ignores the page size of
these calls; it answered ListHostedZonesByName with the zones named exactly DNSName only),
except the guard, which pins down a call moto already pages.
"""

import pytest
from _aws import client, unique
from botocore.exceptions import ClientError


def pages(call, result_key: str, input_token: str, output_token: str, **parameters) -> list[list]:
    found, token = [], None
    while len(found) < 100:
        page = call(**parameters, **({input_token: token} if token else {}))
        found.append(page[result_key])
        token = page.get(output_token)
        if not token:
            return found
    raise AssertionError("paging never ends")


def test_ecs_list_services_answers_ten_by_default():
    """ECS ListServices: "If this parameter isn't used, then ListServices returns up to 10
    results and a nextToken value"."""
    ecs = client("ecs")
    cluster = unique("paged")
    ecs.create_cluster(clusterName=cluster)
    family = unique("f")
    ecs.register_task_definition(family=family, containerDefinitions=[{"name": "a", "image": "nginx", "memory": 128}])
    for i in range(23):
        ecs.create_service(cluster=cluster, serviceName=f"s{i:02d}", taskDefinition=family, desiredCount=0)
    first = ecs.list_services(cluster=cluster)
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    found = pages(ecs.list_services, "serviceArns", "nextToken", "nextToken", cluster=cluster)
    assert [len(p) for p in found] == [10, 10, 3]
    assert len({arn for p in found for arn in p}) == 23
    assert [len(p) for p in pages(ecs.list_services, "serviceArns", "nextToken", "nextToken", cluster=cluster, maxResults=20)] == [20, 3]


def test_ecs_list_task_definitions_answers_a_hundred_by_default():
    ecs = client("ecs")
    family = unique("many")
    for _ in range(101):
        ecs.register_task_definition(family=family, containerDefinitions=[{"name": "a", "image": "nginx", "memory": 128}])
    found = pages(ecs.list_task_definitions, "taskDefinitionArns", "nextToken", "nextToken", familyPrefix=family)
    assert [len(p) for p in found] == [100, 1]


def test_a_token_the_test_bed_did_not_issue_is_refused():
    with pytest.raises(ClientError) as error:
        client("ecs").list_clusters(nextToken="made-up")
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_ecr_describe_repositories_pages():
    ecr = client("ecr")
    prefix = unique("paged")
    names = [f"{prefix}/r{i}" for i in range(3)]
    for name in names:
        ecr.create_repository(repositoryName=name)
    found = pages(ecr.describe_repositories, "repositories", "nextToken", "nextToken", repositoryNames=names, maxResults=2)
    assert [len(p) for p in found] == [2, 1]


def test_elbv2_describe_target_groups_pages():
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    names = [unique("tg") for _ in range(3)]
    for name in names:
        elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")
    found = pages(elb.describe_target_groups, "TargetGroups", "Marker", "NextMarker", Names=names, PageSize=2)
    assert [len(p) for p in found] == [2, 1]


def test_acm_list_certificates_pages():
    acm = client("acm")
    for _ in range(3):
        acm.request_certificate(DomainName=f"{unique('paged')}.example.com", ValidationMethod="DNS")
    first = acm.list_certificates(MaxItems=2)
    assert len(first["CertificateSummaryList"]) == 2 and first["NextToken"]


def test_rds_describe_db_subnet_groups_pages():
    ec2, rds = client("ec2"), client("rds")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    for _ in range(21):
        rds.create_db_subnet_group(DBSubnetGroupName=unique("paged"), DBSubnetGroupDescription="d", SubnetIds=subnets)
    first = rds.describe_db_subnet_groups(MaxRecords=20)
    assert len(first["DBSubnetGroups"]) == 20 and first["Marker"]


def test_iam_list_role_policies_pages():
    iam = client("iam")
    role = unique("paged")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
    for i in range(3):
        iam.put_role_policy(RoleName=role, PolicyName=f"p{i}", PolicyDocument=document)
    first = iam.list_role_policies(RoleName=role, MaxItems=2)
    assert (len(first["PolicyNames"]), first["IsTruncated"]) == (2, True)
    second = iam.list_role_policies(RoleName=role, MaxItems=2, Marker=first["Marker"])
    assert (second["PolicyNames"], second["IsTruncated"]) == (["p2"], False)


def test_route53_list_hosted_zones_by_name_starts_at_the_name_and_pages():
    """AWS lists every zone from DNSName on, in reversed-label order; a name with no zone
    answers the zones after it."""
    route53 = client("route53")
    base = unique("paged")
    for name in (f"b.{base}.test", f"a.{base}.test", f"c.{base}.test"):
        route53.create_hosted_zone(Name=name, CallerReference=unique("ref"))
    first = route53.list_hosted_zones_by_name(DNSName=f"a.{base}.test", MaxItems="2")
    assert [z["Name"] for z in first["HostedZones"]] == [f"a.{base}.test.", f"b.{base}.test."]
    assert first["IsTruncated"] and first["NextDNSName"] == f"c.{base}.test."
    second = route53.list_hosted_zones_by_name(DNSName=first["NextDNSName"], HostedZoneId=first["NextHostedZoneId"], MaxItems="2")
    assert second["HostedZones"][0]["Name"] == f"c.{base}.test."
    missing = route53.list_hosted_zones_by_name(DNSName=f"aa.{base}.test", MaxItems="1")
    assert [z["Name"] for z in missing["HostedZones"]] == [f"b.{base}.test."]


def test_guard_logs_describe_log_groups_pages_at_fifty():
    """Guard (moto already pages this one, at AWS's default of 50)."""
    logs = client("logs")
    prefix = f"/{unique('paged')}/"
    for i in range(51):
        logs.create_log_group(logGroupName=f"{prefix}{i}")
    first = logs.describe_log_groups(logGroupNamePrefix=prefix)
    assert len(first["logGroups"]) == 50 and first["nextToken"]


def test_route53_list_hosted_zones_pages_by_zone_id_markers():
    """ListHostedZones' NextMarker is the id of the next page's first zone, as on AWS, and
    a Marker starts the page there. Plain moto 5.2.5 answers a base64 token of 100+
    characters, which the model's PageMarker (at most 64) refuses back."""
    route53 = client("route53")
    made = set()
    for _ in range(3):
        zone = route53.create_hosted_zone(Name=f"{unique('zm')}.example", CallerReference=unique("ref"))
        made.add(zone["HostedZone"]["Id"])
    seen: list[str] = []
    marker = None
    while True:
        out = route53.list_hosted_zones(MaxItems="2", **({"Marker": marker} if marker else {}))
        seen += [z["Id"] for z in out["HostedZones"]]
        if not out["IsTruncated"]:
            break
        marker = out["NextMarker"]
        assert len(marker) <= 64 and f"/hostedzone/{marker}" in [z for z in map(str, seen)] + [
            z["Id"] for z in route53.list_hosted_zones(Marker=marker, MaxItems="1")["HostedZones"]
        ]
    assert made <= set(seen) and len(seen) == len(set(seen))
