"""The running test bed answers every AWS service capsule calls.

A call per service, each one capsule makes: it fails when the Python packages in
testbed/requirements.txt miss something a service needs (moto then answers 500).
"""

import pytest
from _aws import client, eventually, unique

TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

CALLS = {
    "s3": lambda c: c.create_bucket(Bucket=unique("bucket")),
    "secretsmanager": lambda c: c.create_secret(Name=unique("secret"), SecretString="x"),
    "logs": lambda c: c.create_log_group(logGroupName=unique("/capsule/logs")),
    "iam": lambda c: c.get_policy(PolicyArn=TASK_EXECUTION_POLICY),
    "sts": lambda c: c.get_caller_identity(),
    "ec2": lambda c: c.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}]),
    "ecr": lambda c: c.create_repository(repositoryName=unique("repo")),
    "ecs": lambda c: c.create_cluster(clusterName=unique("cluster")),
    "elbv2": lambda c: c.describe_load_balancers(),
    "application-autoscaling": lambda c: c.describe_scalable_targets(ServiceNamespace="ecs"),
    "events": lambda c: c.put_rule(Name=unique("rule"), ScheduleExpression="cron(0 3 * * ? *)"),
    "rds": lambda c: c.describe_db_instances(),
    "elasticache": lambda c: c.describe_replication_groups(),
    "cloudfront": lambda c: c.list_distributions(),
    "route53": lambda c: c.list_hosted_zones(),
    "acm": lambda c: c.request_certificate(DomainName="example.com", ValidationMethod="DNS"),
    "ses": lambda c: c.verify_domain_dkim(Domain=f"{unique('mail')}.example.com"),
    "sesv2": lambda c: c.create_email_identity(EmailIdentity=f"{unique('mail')}.example.com"),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_service_answers(service):
    response = CALLS[service](client(service))
    assert response["ResponseMetadata"]["HTTPStatusCode"] in (200, 201)


def test_aws_managed_policies_are_loaded():
    # MOTO_IAM_LOAD_MANAGED_POLICIES=true: capsule attaches AWS-managed policies to roles.
    iam = client("iam")
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    iam.attach_role_policy(RoleName=role, PolicyArn=TASK_EXECUTION_POLICY)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [TASK_EXECUTION_POLICY]


def test_certificates_are_issued_within_seconds():
    # MOTO_ACM_VALIDATION_WAIT=1: a DNS-validated certificate issues after a second.
    acm = client("acm")
    domain = f"{unique('www')}.example.com"
    arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    eventually(lambda: acm.describe_certificate(CertificateArn=arn))  # ACM is eventually consistent
    validated = acm.get_waiter("certificate_validated")
    validated.wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
