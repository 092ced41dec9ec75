"""Checks of patches/validation.py: requests are validated against the botocore models.

One check per protocol (and per service whose validation error differs), each failing
against plain moto 5.2.5 (checked against `.testbed/venv/bin/moto_server -p 5399`: moto
answers each of these requests with success, or with another error, as noted), and guards
that the validator accepts what capsule sends. boto3's own checks are turned off
(`validate=False`) so that the invalid requests reach the server.
"""

import json

from _aws import client, rejected, unique

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


# --- json -----------------------------------------------------------------------------------


def test_json_pattern_violation_is_a_validation_exception():
    """ACM RequestCertificate with a domain name the model's pattern refuses. Plain moto:
    issues a certificate."""
    code, status, message = rejected(
        lambda: client("acm", validate=False).request_certificate(DomainName="bad name!.example.com", ValidationMethod="DNS")
    )
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'bad name!.example.com' at 'domainName' failed to satisfy constraint: Member must satisfy regular expression pattern: ")


def test_json_length_violation_names_every_error():
    """Secrets Manager CreateSecret with a name over 512 characters and a description over
    2048. Plain moto: creates the secret."""
    code, status, message = rejected(
        lambda: client("secretsmanager", validate=False).create_secret(Name="n" * 513, Description="d" * 2049, SecretString="x")
    )
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "at 'name' failed to satisfy constraint: Member must have length less than or equal to 512" in message
    assert "at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048" in message


def test_json_length_violation_in_application_auto_scaling():
    """PutScalingPolicy with a policy name over 256 characters. Plain moto: creates the
    policy (it checks some enums of this service itself, not lengths)."""
    code, status, message = rejected(
        lambda: client("application-autoscaling", validate=False).put_scaling_policy(
            PolicyName="p" * 257,
            ServiceNamespace="ecs",
            ResourceId="service/cluster/service",
            ScalableDimension="ecs:service:DesiredCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
        )
    )
    assert (code, status) == ("ValidationException", 400)
    assert "at 'policyName' failed to satisfy constraint: Member must have length less than or equal to 256" in message


def test_logs_answers_invalid_parameter_exception():
    """CloudWatch Logs names a model violation InvalidParameterException. Plain moto:
    creates the log group."""
    code, status, message = rejected(lambda: client("logs", validate=False).create_log_group(logGroupName="has space"))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "Value 'has space' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern" in message


def test_ecs_nested_tag_key_is_checked_and_answered_as_invalid_parameter():
    """ECS CreateCluster with a tag key the model's pattern refuses (an apostrophe), nested in
    a list of structures. Plain moto: creates the cluster."""
    code, status, message = rejected(
        lambda: client("ecs", validate=False).create_cluster(clusterName=unique("c"), tags=[{"key": "it's", "value": "x"}])
    )
    assert (code, status) == ("InvalidParameterException", 400)
    assert "at 'tags.1.member.key' failed to satisfy constraint" in message


def test_ecr_answers_invalid_parameter_exception():
    """DescribeRepositories with maxResults over 1000. Plain moto: answers the repositories
    (it checks repository names itself, not this)."""
    code, status, message = rejected(lambda: client("ecr", validate=False).describe_repositories(maxResults=1001))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000" in message


def test_eventbridge_rule_name_pattern():
    """Plain moto: creates the rule."""
    code, status, _ = rejected(
        lambda: client("events", validate=False).put_rule(Name="no spaces allowed", ScheduleExpression="rate(1 hour)")
    )
    assert (code, status) == ("ValidationException", 400)


# --- query ----------------------------------------------------------------------------------


def test_query_range_violation_is_a_validation_error():
    """IAM CreateRole with MaxSessionDuration below 3600 (AWS's own message, as reported in
    https://github.com/boto/botocore/issues/3337). Plain moto: creates the role."""
    code, status, message = rejected(
        lambda: client("iam", validate=False).create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST, MaxSessionDuration=60)
    )
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value greater than or equal to 3600"
    )


def test_query_missing_required_member():
    """IAM CreateRole without a trust policy. Plain moto: HTTP 500 or a role without one."""
    code, status, message = rejected(lambda: client("iam", validate=False).create_role(RoleName=unique("r")))
    assert (code, status) == ("ValidationError", 400)
    assert "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null" in message


def test_query_elbv2_page_size_over_the_maximum():
    """Plain moto: answers a page."""
    code, status, message = rejected(lambda: client("elbv2", validate=False).describe_target_groups(PageSize=401))
    assert (code, status) == ("ValidationError", 400)
    assert "Member must have value less than or equal to 400" in message


def test_query_sts_role_session_name():
    """STS AssumeRole with a session name the pattern refuses. Plain moto: assumes the role."""
    code, status, _ = rejected(
        lambda: client("sts", validate=False).assume_role(
            RoleArn="arn:aws:iam::123456789012:role/anything", RoleSessionName="has space"
        )
    )
    assert (code, status) == ("ValidationError", 400)


# --- ec2 ------------------------------------------------------------------------------------


def test_ec2_missing_parameter():
    """CreateSecurityGroup without a description. Plain moto: creates the group."""
    code, status, message = rejected(lambda: client("ec2", validate=False).create_security_group(GroupName=unique("g")))
    assert (code, status) == ("MissingParameter", 400)
    assert message == "The request must contain the parameter Description"


def test_ec2_invalid_parameter_value():
    """DescribeSecurityGroups with MaxResults below 5. Plain moto: answers a page."""
    code, status, message = rejected(lambda: client("ec2", validate=False).describe_security_groups(MaxResults=1))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "Member must have value greater than or equal to 5" in message


# --- rest-xml -------------------------------------------------------------------------------


def test_s3_header_member_enum_is_invalid_argument():
    """S3 PutObject with an unknown storage class (a header member). Plain moto: HTTP 400
    InvalidStorageClass; AWS and now the test bed: InvalidArgument from the model check."""
    s3 = client("s3", validate=False)
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    code, status, _ = rejected(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="NONSENSE"))
    assert (code, status) == ("InvalidArgument", 400)


def test_route53_uri_member_length_is_invalid_input():
    """Route 53 GetHostedZone with an id over 32 characters (a URI member). Plain moto:
    NoSuchHostedZone (404)."""
    code, status, message = rejected(lambda: client("route53", validate=False).get_hosted_zone(Id="Z" * 33))
    assert (code, status) == ("InvalidInput", 400)
    assert "Member must have length less than or equal to 32" in message


def test_cloudfront_body_member_enum_is_invalid_argument():
    """CloudFront CreateOriginAccessControl with an unknown signing protocol (an XML body
    member). Plain moto: creates it."""
    code, status, _ = rejected(
        lambda: client("cloudfront", validate=False).create_origin_access_control(
            OriginAccessControlConfig={
                "Name": unique("oac"),
                "SigningProtocol": "sigv5",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )
    )
    assert (code, status) == ("InvalidArgument", 400)


# --- rest-json ------------------------------------------------------------------------------


def test_sesv2_is_bad_request_exception():
    """SESv2 CreateEmailIdentity with an empty identity. Plain moto: creates it."""
    code, status, message = rejected(lambda: client("sesv2", validate=False).create_email_identity(EmailIdentity=""))
    assert (code, status) == ("BadRequestException", 400)
    assert "Member must have length greater than or equal to 1" in message


# --- guards: what capsule sends passes ------------------------------------------------------


def test_guard_capsule_like_requests_pass_validation():
    """Guard: requests shaped like capsule's (tags with `:` in keys, ARNs, Fargate task
    definitions, a CloudFront distribution with an origin access control) are valid."""
    tags = [{"Key": "capsule:name", "Value": "shop"}, {"Key": "capsule:env", "Value": "prod"}]
    iam = client("iam")
    role = unique("capsule-shop-prod-web-task")
    iam.create_role(RoleName=role, Path="/capsule/", Description="capsule shop prod: task role of web", AssumeRolePolicyDocument=TRUST, Tags=tags)
    iam.put_role_policy(RoleName=role, PolicyName="capsule", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]}))

    ecs = client("ecs")
    ecs.register_task_definition(
        family=unique("shop-prod-web"),
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=f"arn:aws:iam::123456789012:role/capsule/{role}",
        taskRoleArn=f"arn:aws:iam::123456789012:role/capsule/{role}",
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        containerDefinitions=[
            {
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web@sha256:" + "a" * 64,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "PORT", "value": "8080"}],
                "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf:url::"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/capsule/shop/prod/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}},
            }
        ],
        tags=[{"key": "capsule:name", "value": "shop"}],
    )
    client("logs").create_log_group(logGroupName=f"/capsule/{unique('shop')}/prod/web", tags={"capsule:name": "shop"})
    client("secretsmanager").create_secret(Name=f"capsule/{unique('shop')}/prod/db", SecretString="{}", Tags=tags)
    client("ecr").create_repository(
        repositoryName=f"capsule/{unique('shop')}/web", imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True}, tags=tags,
    )
    client("events").put_rule(Name=unique("capsule-shop-prod-nightly"), ScheduleExpression="cron(0 3 * * ? *)", Description="capsule shop prod: job nightly", Tags=tags)
    client("acm").request_certificate(
        DomainName=f"{unique('shop')}.example.com", SubjectAlternativeNames=["*.example.com"], ValidationMethod="DNS", Tags=tags
    )
    cloudfront = client("cloudfront")
    oac = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={"Name": unique("capsule-shop"), "Description": "capsule", "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
    )["OriginAccessControl"]["Id"]
    cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": {
                "CallerReference": unique("ref"),
                "Comment": unique("capsule-shop-prod-site"),
                "Enabled": True,
                "DefaultRootObject": "index.html",
                "HttpVersion": "http2and3",
                "IsIPV6Enabled": True,
                "PriceClass": "PriceClass_100",
                "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "b.s3.us-east-1.amazonaws.com", "OriginAccessControlId": oac, "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
                "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "Compress": True},
                "CustomErrorResponses": {"Quantity": 2, "Items": [
                    {"ErrorCode": 403, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 0},
                    {"ErrorCode": 404, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 0},
                ]},
            },
            "Tags": {"Items": tags},
        }
    )
    s3 = client("s3")
    bucket = unique("capsule-shop-prod-site")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"Tags": tags})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket=bucket, Key="assets/app.3f2a.js", Body=b"x", ContentType="text/javascript", CacheControl="public, max-age=31536000, immutable", Metadata={"capsule-md5": "abc"})
    route53 = client("route53")
    domain = f"{unique('zone')}.example.com"
    zone = route53.create_hosted_zone(Name=domain, CallerReference=unique("ref"))["HostedZone"]["Id"]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"_amazonses.{domain}", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"token"'}]}},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": f"abc._domainkey.{domain}", "Type": "CNAME", "TTL": 1800, "ResourceRecords": [{"Value": "abc.dkim.amazonses.com"}]}},
            {"Action": "CREATE", "ResourceRecordSet": {"Name": f"www.{domain}", "Type": "A", "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d111111abcdef8.cloudfront.net", "EvaluateTargetHealth": False}}},
        ]},
    )
    client("sesv2").create_email_identity(EmailIdentity=f"{unique('mail')}.example.com", Tags=tags)


def test_guard_security_group_and_load_balancer_as_capsule_builds_them():
    """Guard: a security group with an allowed description and rule descriptions, an ALB with
    HTTPS-redirect listener and a host-header rule."""
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    ec2.create_security_group(
        GroupName=unique("capsule-shop-prod-db"), Description="database main: from the capsule services only", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "capsule:name", "Value": "shop"}]}],
    )
    lb = elb.create_load_balancer(
        Name=unique("shop-prod")[:32], Subnets=subnets, Scheme="internet-facing", Type="application", IpAddressType="ipv4",
        Tags=[{"Key": "capsule:name", "Value": "shop"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(
        Name=unique("shop-web")[:32], Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/", HealthCheckIntervalSeconds=15, HealthyThresholdCount=2, Matcher={"HttpCode": "200-399"},
    )["TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
    )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=listener, Priority=10,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["shop.example.com"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
