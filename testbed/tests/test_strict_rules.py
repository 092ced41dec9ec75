"""Checks of patches/rules.py (documented rules the models lack) and patches/iam.py.

Every test fails against plain moto 5.2.5 (checked against `.testbed/venv/bin/moto_server -p
5399`; what moto did instead is in each docstring), except those named `test_guard_*`,
which pin down what must keep working (and, for DeleteTargetGroup, what moto already does).
"""

import time

import pytest
from _aws import client, eventually, fresh_account, rejected, unique
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def network():
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    subnets.sort(key=lambda s: s["AvailabilityZone"])
    return vpc, [s["SubnetId"] for s in subnets]


# --- EC2 security groups ----------------------------------------------------------------------


def test_security_group_description_with_an_apostrophe_is_refused(network):
    """The review's F1. Plain moto: creates the group."""
    code, status, message = rejected(
        lambda: client("ec2").create_security_group(
            GroupName=unique("db"), Description="database main: from the capsule's services only", VpcId=network[0]
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "GroupDescription" in message


def test_security_group_name_starting_with_sg_is_refused(network):
    """Plain moto: creates the group."""
    code, status, message = rejected(
        lambda: client("ec2").create_security_group(GroupName=unique("sg"), Description="ok", VpcId=network[0])
    )
    assert (code, status, message) == ("InvalidParameterValue", 400, "Group names may not be in the format sg-*.")


def test_security_group_description_over_255_characters_is_refused(network):
    """Plain moto: creates the group."""
    code, status, _ = rejected(
        lambda: client("ec2").create_security_group(GroupName=unique("g"), Description="d" * 256, VpcId=network[0])
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_rule_description_with_an_ampersand_is_refused(network):
    """Rule descriptions do not allow & (group descriptions do). Plain moto: adds the rule."""
    ec2 = client("ec2")
    group = ec2.create_security_group(GroupName=unique("g"), Description="a & b", VpcId=network[0])["GroupId"]
    time.sleep(1.1)  # visible (patches/consistency.py)
    code, status, _ = rejected(
        lambda: ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "web & api"}]}],
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)


# --- ECS ------------------------------------------------------------------------------------------


def load_balancer(network) -> str:
    return client("elbv2").create_load_balancer(Name=unique("lb"), Subnets=network[1][:2])["LoadBalancers"][0]["LoadBalancerArn"]


def target_group(network, target_type: str = "ip") -> str:
    return client("elbv2").create_target_group(
        Name=unique("tg"), Protocol="HTTP", Port=80, VpcId=network[0], TargetType=target_type
    )["TargetGroups"][0]["TargetGroupArn"]


def attach(network, group: str, through_rule: bool = False) -> None:
    elb = client("elbv2")
    if not through_rule:
        elb.create_listener(
            LoadBalancerArn=load_balancer(network), Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}]
        )
        return
    listener = elb.create_listener(
        LoadBalancerArn=load_balancer(network), Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=listener, Priority=5, Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"]}}],
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": group, "Weight": 1}]}}],
    )


def fargate_service(network, cluster: str, group: str | None = None, **overrides) -> dict:
    ecs = client("ecs")
    family = unique("web")
    ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "portMappings": [{"containerPort": 80}]}],
    )
    parameters = {
        "cluster": cluster,
        "serviceName": unique("svc"),
        "taskDefinition": family,
        "desiredCount": 1,
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": network[1][:2], "securityGroups": [], "assignPublicIp": "ENABLED"}},
    }
    if group:
        parameters["loadBalancers"] = [{"targetGroupArn": group, "containerName": "web", "containerPort": 80}]
    parameters.update(overrides)
    return ecs.create_service(**parameters)["service"]


@pytest.fixture
def cluster():
    name = unique("cluster")
    client("ecs").create_cluster(clusterName=name)
    return name


def test_ecs_service_with_a_target_group_no_load_balancer_uses_is_refused(network, cluster):
    """The review's F2. Plain moto: creates the service."""
    group = target_group(network)
    code, status, message = rejected(lambda: fargate_service(network, cluster, group))
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == f"The target group with targetGroupArn {group} does not have an associated load balancer."


def test_ecs_update_service_onto_an_unattached_target_group_is_refused(network, cluster):
    """Plain moto: updates the service."""
    service = fargate_service(network, cluster)
    group = target_group(network)
    code, status, _ = rejected(
        lambda: client("ecs").update_service(
            cluster=cluster, service=service["serviceName"],
            loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 80}],
        )
    )
    assert (code, status) == ("InvalidParameterException", 400)


def test_guard_ecs_service_with_a_target_group_of_a_listener_or_a_rule(network, cluster):
    """Guard: a target group forwarded to by a listener's default action, or by a listener
    rule (weighted forward), is attached."""
    by_listener, by_rule = target_group(network), target_group(network)
    attach(network, by_listener)
    attach(network, by_rule, through_rule=True)
    assert fargate_service(network, cluster, by_listener)["loadBalancers"][0]["targetGroupArn"] == by_listener
    assert fargate_service(network, cluster, by_rule)["loadBalancers"][0]["targetGroupArn"] == by_rule


def test_ecs_awsvpc_service_needs_an_ip_target_group(network, cluster):
    """Plain moto: creates the service behind an `instance` target group."""
    group = target_group(network, "instance")
    attach(network, group)
    code, status, message = rejected(lambda: fargate_service(network, cluster, group))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "has target type instance, which is incompatible with the awsvpc network mode" in message


def test_ecs_awsvpc_configuration_limits(network, cluster):
    """At most 5 security groups. Plain moto: creates the service."""
    groups = [f"sg-{i:017x}" for i in range(6)]
    code, status, message = rejected(
        lambda: fargate_service(
            network, cluster,
            networkConfiguration={"awsvpcConfiguration": {"subnets": network[1][:1], "securityGroups": groups}},
        )
    )
    assert (code, status, message) == ("InvalidParameterException", 400, "securityGroups can have at most 5 items.")


def test_ecs_describe_services_takes_at_most_ten(cluster):
    """Plain moto: describes (or lists as failures) all eleven."""
    code, status, _ = rejected(lambda: client("ecs").describe_services(cluster=cluster, services=[f"s{i}" for i in range(11)]))
    assert (code, status) == ("InvalidParameterException", 400)


def test_ecs_needs_its_service_linked_role_which_the_first_cluster_creates(network):
    """The review's F4, in a fresh account: a cluster with capacity providers fails ("Unable
    to assume the service linked role"), as does, right after a plain CreateCluster,
    PutClusterCapacityProviders (capsule's order); ECS creates AWSServiceRoleForECS by
    itself a moment later, and then the same call succeeds. Plain moto: no role needed
    (every call succeeds) and none created."""
    account = fresh_account()
    ecs, iam = client("ecs", account=account), client("iam", account=account)
    code, status, message = rejected(
        lambda: ecs.create_cluster(clusterName=unique("cluster"), capacityProviders=["FARGATE", "FARGATE_SPOT"])
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
    name = unique("cluster")
    ecs.create_cluster(clusterName=name)

    def put_capacity_providers():
        return ecs.put_cluster_capacity_providers(
            cluster=name, capacityProviders=["FARGATE"], defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}]
        )

    code, _, message = rejected(put_capacity_providers)
    assert code == "InvalidParameterException" and "service linked role" in message
    deadline = time.time() + 10
    while True:
        try:
            role = iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]
            break
        except ClientError:
            assert time.time() < deadline, "ECS never created its service-linked role"
            time.sleep(0.2)
    assert role["Path"] == "/aws-service-role/ecs.amazonaws.com/"
    put_capacity_providers()


def test_ecs_service_linked_role_created_first_works_at_once():
    """iam:CreateServiceLinkedRole ecs.amazonaws.com makes AWSServiceRoleForECS (plain moto:
    "AWSServiceRoleForecs"), and ECS can use it at once; a second create fails with
    InvalidInput "has been taken" (plain moto: EntityAlreadyExists, 409)."""
    account = fresh_account()
    ecs, iam = client("ecs", account=account), client("iam", account=account)
    role = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    assert (role["RoleName"], role["Path"]) == ("AWSServiceRoleForECS", "/aws-service-role/ecs.amazonaws.com/")
    ecs.create_cluster(clusterName=unique("cluster"), capacityProviders=["FARGATE"])
    code, status, message = rejected(lambda: iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com"))
    assert (code, status) == ("InvalidInput", 400)
    assert message == "Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix."


# --- ELBv2 ----------------------------------------------------------------------------------------


def test_elbv2_describe_tags_takes_at_most_twenty(network):
    """Plain moto: describes all 21."""
    arns = [f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x{i}/0123456789abcdef" for i in range(21)]
    code, status, _ = rejected(lambda: client("elbv2").describe_tags(ResourceArns=arns))
    assert (code, status) == ("ValidationError", 400)


def test_guard_delete_target_group_in_use_fails_with_resource_in_use(network):
    """Guard (moto 5.2.5 already does this): DeleteTargetGroup of a group a listener or a
    rule forwards to fails with ResourceInUse."""
    elb = client("elbv2")
    for through_rule in (False, True):
        group = target_group(network)
        attach(network, group, through_rule=through_rule)
        code, status, _ = rejected(lambda: elb.delete_target_group(TargetGroupArn=group))
        assert (code, status) == ("ResourceInUse", 400)


# --- ElastiCache ----------------------------------------------------------------------------------


def test_memcached_version_must_be_a_full_version():
    """The review's F5. Plain moto: creates the cluster."""
    code, status, message = rejected(
        lambda: client("elasticache").create_cache_cluster(
            CacheClusterId=unique("mc"), Engine="memcached", EngineVersion="1.6", CacheNodeType="cache.t4g.micro", NumCacheNodes=1
        )
    )
    assert (code, status, message) == ("InvalidParameterCombination", 400, "Cannot find version 1.6 for memcached")


def test_valkey_version_takes_no_patch_level():
    """Plain moto: creates the group."""
    code, status, message = rejected(
        lambda: client("elasticache").create_replication_group(
            ReplicationGroupId=unique("vk"), ReplicationGroupDescription="d", Engine="valkey", EngineVersion="8.0.1",
            CacheNodeType="cache.t4g.micro", NumCacheClusters=1,
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == "Specific version selection is not allowed for '8.0.1', please use '8.0'"


def test_guard_engine_versions_capsule_uses():
    """Guard: memcached 1.6.22, Valkey 8.0 and Redis OSS 7.1 are accepted."""
    elasticache = client("elasticache")
    elasticache.create_cache_cluster(
        CacheClusterId=unique("mc"), Engine="memcached", EngineVersion="1.6.22", CacheNodeType="cache.t4g.micro", NumCacheNodes=1
    )
    for engine, version in (("valkey", "8.0"), ("redis", "7.1")):
        elasticache.create_replication_group(
            ReplicationGroupId=unique("rg"), ReplicationGroupDescription="d", Engine=engine, EngineVersion=version,
            CacheNodeType="cache.t4g.micro", NumCacheClusters=1,
        )


@pytest.mark.parametrize("cluster_id", ["a--b", "ends-", "1starts-with-digit"])
def test_elasticache_cluster_id_rules(cluster_id):
    """Plain moto: creates the cluster."""
    code, status, _ = rejected(
        lambda: client("elasticache").create_cache_cluster(
            CacheClusterId=cluster_id, Engine="memcached", EngineVersion="1.6.22", CacheNodeType="cache.t4g.micro", NumCacheNodes=1
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_elasticache_replication_group_id_is_at_most_40_characters():
    """Plain moto: creates the group."""
    code, status, _ = rejected(
        lambda: client("elasticache").create_replication_group(
            ReplicationGroupId="r" * 41, ReplicationGroupDescription="d", Engine="valkey", CacheNodeType="cache.t4g.micro", NumCacheClusters=1
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_describe_max_records_is_20_to_100():
    """RDS and ElastiCache. Plain moto: answers a page."""
    for call in (
        lambda: client("rds").describe_db_instances(MaxRecords=5),
        lambda: client("elasticache").describe_cache_clusters(MaxRecords=101),
    ):
        code, status, _ = rejected(call)
        assert (code, status) == ("InvalidParameterValue", 400)


# --- RDS ------------------------------------------------------------------------------------------


def test_rds_new_instance_identifier_rules():
    """ModifyDBInstance NewDBInstanceIdentifier with two consecutive hyphens. Plain moto:
    renames the instance (it checks only CreateDBInstance's identifier)."""
    rds = client("rds")
    name = unique("db")
    rds.create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t4g.micro", Engine="postgres", MasterUsername="capsule",
        MasterUserPassword="p" * 20, AllocatedStorage=20,
    )
    code, status, message = rejected(
        lambda: rds.modify_db_instance(DBInstanceIdentifier=name, NewDBInstanceIdentifier=f"{name}--new", ApplyImmediately=True)
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message.startswith("The parameter NewDBInstanceIdentifier is not a valid identifier.")


def test_rds_subnet_group_name_rules(network):
    """Plain moto: creates the subnet group."""
    code, status, _ = rejected(
        lambda: client("rds").create_db_subnet_group(DBSubnetGroupName="1-capsule", DBSubnetGroupDescription="d", SubnetIds=network[1][:2])
    )
    assert (code, status) == ("InvalidParameterValue", 400)


# --- ACM, CloudFront, S3, Route 53 ----------------------------------------------------------------


def test_acm_certificate_takes_at_most_ten_names():
    """The review's F9. Plain moto: issues the certificate."""
    base = unique("shop")
    names = [f"d{i}.{base}.example.com" for i in range(11)]
    code, status, _ = rejected(
        lambda: client("acm").request_certificate(DomainName=names[0], SubjectAlternativeNames=names[1:], ValidationMethod="DNS")
    )
    assert (code, status) == ("LimitExceededException", 400)
    client("acm").request_certificate(DomainName=names[0], SubjectAlternativeNames=names[1:10], ValidationMethod="DNS")


def test_cloudfront_origin_access_control_update_without_if_match_is_refused():
    """Plain moto: updates the origin access control (it checks IfMatch for distributions
    only, which the guard below pins down)."""
    cloudfront = client("cloudfront")
    config = {"Name": unique("oac"), "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
    oac = cloudfront.create_origin_access_control(OriginAccessControlConfig=config)["OriginAccessControl"]["Id"]
    config["Description"] = "changed"
    for call in (
        lambda: client("cloudfront", validate=False).update_origin_access_control(Id=oac, OriginAccessControlConfig=config),
        lambda: client("cloudfront", validate=False).delete_origin_access_control(Id=oac),
    ):
        code, status, _ = rejected(call)
        assert (code, status) == ("InvalidIfMatchVersion", 400)


def test_guard_cloudfront_distribution_update_without_if_match_is_refused():
    """Guard (moto 5.2.5 already does this for distributions)."""
    cloudfront = client("cloudfront")
    config = {
        "CallerReference": unique("ref"),
        "Comment": "testbed",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "b.s3.us-east-1.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    dist = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    current = cloudfront.get_distribution_config(Id=dist)["DistributionConfig"]
    code, status, _ = rejected(lambda: client("cloudfront", validate=False).update_distribution(Id=dist, DistributionConfig=current))
    assert (code, status) == ("InvalidIfMatchVersion", 400)


@pytest.mark.parametrize("name", ["xn--bucket-test", "sthree-bucket-test", "Upper-case-bucket", "192.168.1.1", "two..dots", "ends-with--ol-s3"])
def test_s3_bucket_naming_rules(name):
    """Plain moto: creates the bucket (it checks the length only)."""
    code, status, _ = rejected(lambda: client("s3", validate=False).create_bucket(Bucket=name))
    assert (code, status) == ("InvalidBucketName", 400)


def test_route53_change_batch_values_are_at_most_32000_characters():
    """200 TXT values of 170 characters: 34,000. Plain moto: applies the batch (it checks
    the number of records itself, which the guard below pins down)."""
    route53 = client("route53")
    domain = f"{unique('zone')}.example.com"
    zone = route53.create_hosted_zone(Name=domain, CallerReference=unique("ref"))["HostedZone"]["Id"]
    values = [{"Value": '"' + f"{i:03d}" + "x" * 165 + '"'} for i in range(200)]
    code, status, _ = rejected(
        lambda: route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": f"t.{domain}", "Type": "TXT", "TTL": 60, "ResourceRecords": values}}]},
        )
    )
    assert (code, status) == ("InvalidChangeBatch", 400)


def test_guard_route53_change_batch_counts_an_upsert_twice():
    """Guard (moto 5.2.5 already does this): 501 records in an UPSERT count 1002."""
    route53 = client("route53")
    domain = f"{unique('zone')}.example.com"
    zone = route53.create_hosted_zone(Name=domain, CallerReference=unique("ref"))["HostedZone"]["Id"]
    records = [{"Value": f"10.0.{i // 250}.{i % 250}"} for i in range(501)]
    code, status, _ = rejected(
        lambda: route53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": f"a.{domain}", "Type": "A", "TTL": 60, "ResourceRecords": records}}]},
        )
    )
    assert (code, status) == ("InvalidChangeBatch", 400)


# --- ELBv2: one certificate a call ------------------------------------------------------------


def test_listener_certificates_are_added_and_removed_one_a_call():
    """Plain moto: adds (and removes) both certificates in one call."""
    from test_patches_lb_autoscaling import issued_certificate, new_load_balancer, not_found_action

    acm, elb = client("acm"), client("elbv2")
    default, first, second = (issued_certificate(acm) for _ in range(3))
    listener = eventually(
        lambda: elb.create_listener(
            LoadBalancerArn=new_load_balancer(elb),
            Port=443,
            Protocol="HTTPS",
            Certificates=[{"CertificateArn": default}],
            DefaultActions=not_found_action(),
        )
    )["Listeners"][0]["ListenerArn"]
    both = [{"CertificateArn": first}, {"CertificateArn": second}]
    for certificate in both:  # one a call: accepted (once ELB knows the new certificate)
        eventually(lambda: elb.add_listener_certificates(ListenerArn=listener, Certificates=[certificate]))
    for call in (elb.add_listener_certificates, elb.remove_listener_certificates):
        code, status, message = rejected(lambda: call(ListenerArn=listener, Certificates=both))
        assert (code, status) == ("ValidationError", 400)
        assert "one certificate per call" in message

    def extra() -> set[str]:
        listed = elb.describe_listener_certificates(ListenerArn=listener)["Certificates"]
        return {c["CertificateArn"] for c in listed if not c.get("IsDefault")}

    assert extra() == {first, second}
    elb.remove_listener_certificates(ListenerArn=listener, Certificates=[both[0]])
    assert extra() == {second}


# --- EC2: an address in use ---------------------------------------------------------------------


def nat_gateway_in_new_vpc(ec2, octet: int) -> tuple[str, str, str]:
    """A public NAT gateway in a new VPC (with its internet gateway): its id, its address's
    allocation id and association id."""
    from test_patches_network import vpc_with_subnets

    _, subnets = vpc_with_subnets(ec2, True, octet)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)["NatGateway"]
    return gateway["NatGatewayId"], allocation, gateway["NatGatewayAddresses"][0]["AssociationId"]


def test_the_address_of_a_nat_gateway_is_not_released_until_the_gateway_is_deleted():
    """Plain moto: releases the address of an available NAT gateway (and disassociates it)."""
    ec2 = client("ec2")
    gateway, allocation, association = nat_gateway_in_new_vpc(ec2, 211)
    for call in (
        lambda: ec2.release_address(AllocationId=allocation),
        lambda: ec2.disassociate_address(AssociationId=association),
    ):
        assert rejected(call) == ("AuthFailure", 400, "You do not have permission to access the specified resource.")
    ec2.delete_nat_gateway(NatGatewayId=gateway)
    # Still refused while the gateway is deleting (patches/ec2.py), released once it is deleted.
    deadline = time.time() + 10
    while True:
        try:
            ec2.release_address(AllocationId=allocation)
            break
        except ClientError as error:
            assert error.response["Error"]["Code"] == "AuthFailure" and time.time() < deadline
            time.sleep(0.2)


def test_an_address_associated_with_an_interface_is_not_released():
    """[Nondefault VPC] ReleaseAddress of an associated address. Plain moto: releases it."""
    from test_patches_network import vpc_with_subnets

    ec2 = client("ec2")
    _, subnets = vpc_with_subnets(ec2, True, 212)
    interface = ec2.create_network_interface(SubnetId=subnets[0])["NetworkInterface"]["NetworkInterfaceId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    association = ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=interface)["AssociationId"]
    code, status, message = rejected(lambda: ec2.release_address(AllocationId=allocation))
    assert (code, status) == ("InvalidIPAddress.InUse", 400)
    assert allocation in message
    ec2.disassociate_address(AssociationId=association)
    ec2.release_address(AllocationId=allocation)


# --- IAM propagation ------------------------------------------------------------------------------


def test_a_role_made_a_moment_ago_cannot_deliver_flow_logs_yet():
    """Plain moto: creates the flow log at once."""
    from test_patches_network import vpc_with_subnets

    ec2, iam = client("ec2"), client("iam")
    vpc, _ = vpc_with_subnets(ec2, False, 213)
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    role = iam.create_role(RoleName=unique("flow"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    def create():
        return ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=unique("flow"),
            DeliverLogsPermissionArn=role,
        )

    code, status, message = rejected(create)
    assert (code, status, message) == ("InvalidParameter", 400, f"Unable to assume given IAM role: '{role}'")
    out = eventually(create, codes=("InvalidParameter", "InvalidVpcID.NotFound"))
    assert out["FlowLogIds"] and not out.get("Unsuccessful")


# --- Route 53: a change while the previous one is processed ------------------------------------


def test_route53_change_right_after_another_to_the_same_zone_is_refused():
    """Plain moto: applies both."""
    route53 = client("route53")
    domain = f"{unique('zone')}.example.com"
    zone = route53.create_hosted_zone(Name=domain, CallerReference=unique("ref"))["HostedZone"]["Id"]
    other_domain = f"{unique('zone')}.example.com"
    other = route53.create_hosted_zone(Name=other_domain, CallerReference=unique("ref"))["HostedZone"]["Id"]

    def create(zone_id: str, name: str):
        return lambda: route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]},
        )

    create(zone, f"a.{domain}")()
    code, status, message = rejected(create(zone, f"b.{domain}"))
    assert (code, status) == ("PriorRequestNotComplete", 400)
    assert message == "The request was rejected because Route 53 was still processing a prior request."
    create(other, f"a.{other_domain}")()  # another zone is not held up
    eventually(create(zone, f"b.{domain}"), codes=("PriorRequestNotComplete",))
    names = {r["Name"] for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]}
    assert {f"a.{domain}.", f"b.{domain}."} <= names
