"""Checks of patches/elbv2.py, patches/applicationautoscaling.py and patches/acm.py against
the running test bed (see test_patches.py for how these tests run). Every test fails against
plain moto 5.2.5.
"""

import pytest
from _aws import client, eventually, unique
from botocore.exceptions import ClientError


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- ELBv2 ----------------------------------------------------------------------------


@pytest.fixture
def elb():
    return client("elbv2")


def new_load_balancer(elb) -> str:
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    lb = elb.create_load_balancer(Name=unique("lb")[:32], Subnets=subnets[:2], Type="application")
    return lb["LoadBalancers"][0]["LoadBalancerArn"]


def not_found_action() -> list[dict]:
    return [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]


def test_elbv2_create_listener_on_a_taken_port_fails_with_duplicate_listener(elb):
    lb = new_load_balancer(elb)
    elb.create_listener(LoadBalancerArn=lb, Port=80, Protocol="HTTP", DefaultActions=not_found_action())
    with pytest.raises(ClientError) as e:
        elb.create_listener(LoadBalancerArn=lb, Port=80, Protocol="HTTP", DefaultActions=not_found_action())
    assert error_of(e) == ("DuplicateListener", 400)
    assert len(elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]) == 1


def test_elbv2_modify_listener_onto_a_taken_port_fails_with_duplicate_listener(elb):
    lb = new_load_balancer(elb)
    elb.create_listener(LoadBalancerArn=lb, Port=80, Protocol="HTTP", DefaultActions=not_found_action())
    other = elb.create_listener(LoadBalancerArn=lb, Port=8080, Protocol="HTTP", DefaultActions=not_found_action())
    arn = other["Listeners"][0]["ListenerArn"]
    with pytest.raises(ClientError) as e:
        elb.modify_listener(ListenerArn=arn, Port=80)
    assert error_of(e) == ("DuplicateListener", 400)
    # Guard: a listener keeps its own port, and moves to a free one.
    elb.modify_listener(ListenerArn=arn, Port=8080)
    elb.modify_listener(ListenerArn=arn, Port=8081)
    assert elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]["Port"] == 8081


# --- Application Auto Scaling -----------------------------------------------------------


@pytest.fixture
def aas():
    return client("application-autoscaling")


def new_target(aas, **extra) -> tuple[str, str]:
    """A DynamoDB table target (moto checks no table exists for it): resource id, ARN."""
    resource_id = f"table/{unique('t')}"
    aas.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=resource_id,
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=1,
        MaxCapacity=5,
        **extra,
    )
    target = aas.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=[resource_id])["ScalableTargets"][0]
    return resource_id, target["ScalableTargetARN"]


def test_autoscaling_targets_take_tags_at_registration_and_by_tag_resource(aas):
    resource_id, arn = new_target(aas, Tags={"owner": "capsule", "env": "test"})
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"owner": "capsule", "env": "test"}
    # Re-registering an existing target leaves its tags alone.
    aas.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=resource_id,
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MaxCapacity=6,
        Tags={"other": "x"},
    )
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"owner": "capsule", "env": "test"}
    aas.tag_resource(ResourceARN=arn, Tags={"more": "y"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["env"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"owner": "capsule", "more": "y"}


def test_autoscaling_tags_of_an_unknown_arn_fail_with_resource_not_found(aas):
    arn = "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/nope"
    with pytest.raises(ClientError) as e:
        aas.list_tags_for_resource(ResourceARN=arn)
    assert error_of(e) == ("ResourceNotFoundException", 400)


def test_autoscaling_deleting_what_is_not_there_fails_with_object_not_found(aas):
    with pytest.raises(ClientError) as e:
        aas.deregister_scalable_target(
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{unique('gone')}",
            ScalableDimension="dynamodb:table:ReadCapacityUnits",
        )
    assert error_of(e) == ("ObjectNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        aas.delete_scaling_policy(
            PolicyName="nope",
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{unique('gone')}",
            ScalableDimension="dynamodb:table:ReadCapacityUnits",
        )
    assert error_of(e) == ("ObjectNotFoundException", 400)


def target_tracking(resource_id: str) -> dict:
    return {
        "PolicyName": "cpu",
        "ServiceNamespace": "dynamodb",
        "ResourceId": resource_id,
        "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
        },
    }


def test_autoscaling_policy_needs_a_registered_target(aas):
    with pytest.raises(ClientError) as e:
        aas.put_scaling_policy(**target_tracking(f"table/{unique('unregistered')}"))
    assert error_of(e) == ("ObjectNotFoundException", 400)


def test_autoscaling_deregistering_a_target_deletes_its_policies(aas):
    resource_id, _ = new_target(aas)
    aas.put_scaling_policy(**target_tracking(resource_id))
    aas.deregister_scalable_target(
        ServiceNamespace="dynamodb", ResourceId=resource_id, ScalableDimension="dynamodb:table:ReadCapacityUnits"
    )
    policies = aas.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=resource_id)["ScalingPolicies"]
    assert [p for p in policies if p["ResourceId"] == resource_id] == []


def test_autoscaling_describe_scalable_targets_pages_through_everything(aas):
    mine = {new_target(aas)[0] for _ in range(7)}
    seen, token, pages = [], None, 0
    while pages < 1000:
        kwargs = {"NextToken": token} if token else {}
        page = aas.describe_scalable_targets(ServiceNamespace="dynamodb", MaxResults=2, **kwargs)
        seen.extend(t["ResourceId"] for t in page["ScalableTargets"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert token is None, "paging never ends"
    assert mine <= set(seen)
    assert len(seen) == len(set(seen)), "no target twice"


# --- ACM: a certificate in use -----------------------------------------------------------


def issued_certificate(acm) -> str:
    arn = acm.request_certificate(DomainName=f"{unique('cert')}.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    eventually(lambda: acm.describe_certificate(CertificateArn=arn))
    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    return arn


def test_acm_a_certificate_on_a_listener_cannot_be_deleted_until_it_moves_off(elb):
    acm = client("acm")
    old, new = issued_certificate(acm), issued_certificate(acm)
    balancer = new_load_balancer(elb)
    listener = eventually(
        lambda: elb.create_listener(
            LoadBalancerArn=balancer,
            Port=443,
            Protocol="HTTPS",
            Certificates=[{"CertificateArn": old}],
            DefaultActions=not_found_action(),
        )
    )["Listeners"][0]["ListenerArn"]

    with pytest.raises(ClientError) as in_use:
        acm.delete_certificate(CertificateArn=old)
    assert error_of(in_use) == ("ResourceInUseException", 400)
    assert acm.describe_certificate(CertificateArn=old)["Certificate"]["DomainName"]

    eventually(lambda: elb.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": new}]))
    acm.delete_certificate(CertificateArn=old)
    with pytest.raises(ClientError) as gone:
        acm.describe_certificate(CertificateArn=old)
    assert error_of(gone)[0] == "ResourceNotFoundException"


def test_acm_a_certificate_on_a_distribution_cannot_be_deleted():
    acm, cloudfront = client("acm"), client("cloudfront")
    arn = issued_certificate(acm)
    origin = {
        "Id": "o",
        "DomainName": "origin.example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
    }
    cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": unique("ref"),
            "Comment": "testbed",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
            "ViewerCertificate": {"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only"},
        }
    )
    with pytest.raises(ClientError) as in_use:
        acm.delete_certificate(CertificateArn=arn)
    assert error_of(in_use) == ("ResourceInUseException", 400)
