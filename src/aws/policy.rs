//! The IAM policy of the deploy role (`capsule policy`): per resource kind the calls its adapter
//! makes and the IAM actions they need, what every run needs besides, and the resources each
//! grant is narrowed to. Pure: built from the expanded model; calls no AWS. A new adapter call
//! is one more label in `GRANTS` (a test fails until it is there).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::config::Project;
use crate::model::{self, ExpandContext, Kind};

/// When a grant is part of the policy.
#[derive(Debug, Clone, Copy)]
pub enum When {
    /// Every run: every plan lists what each managed kind owns, and locks, images, checks.
    Always,
    /// Only when some capsule environment declares one of these kinds.
    Declared(&'static [Kind]),
}

/// Which resources a grant's statement names, per capsule (one deploy role deploys all its
/// environments). Templates take `{account}` (the `account` guard, else `*`), `{capsule}`,
/// and `{names<N>}`: what every name of at most N characters capsule makes for the capsule
/// (`<capsule>-<env>-<name>`, shortened with a hash when longer) starts with.
#[derive(Debug, Clone, Copy)]
pub enum On {
    Any,
    Arns(&'static [&'static str]),
    /// `iam:PassRole` on capsule's roles, only to these services.
    PassRoleTo(&'static [&'static str]),
    /// `iam:CreateServiceLinkedRole` for these services only.
    ServiceLinkedRoles(&'static [&'static str]),
    /// Route 53 changes of records in the capsules' `[dns] zone`s only.
    RecordsInZones,
}

/// One statement of the policy: the calls capsule makes (their labels in `src/`), the IAM
/// actions they need that differ from their names or that have no call of their own.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub sid: &'static str,
    pub when: When,
    pub calls: &'static [&'static str],
    pub also: &'static [&'static str],
    pub on: On,
}

const fn grant(
    sid: &'static str,
    when: When,
    calls: &'static [&'static str],
    also: &'static [&'static str],
    on: On,
) -> Grant {
    Grant { sid, when, calls, also, on }
}

use When::{Always, Declared};

const LB: &[Kind] = &[Kind::Lb, Kind::LbListener, Kind::LbListenerRule, Kind::LbTargetGroup];
const CACHES: &[Kind] = &[Kind::CacheSubnetGroup, Kind::ElasticacheReplicationGroup, Kind::ElasticacheCluster];
const DATABASES: &[Kind] = &[Kind::DbSubnetGroup, Kind::DbParameterGroup, Kind::RdsInstance];

/// The table. Reads (`Always`) are on `*`: every run lists what each managed kind owns, and
/// most list calls take no narrower resource. Writes name capsule's resources where AWS
/// evaluates them by name; `*` where the ARN holds an id AWS makes (distributions,
/// certificates, scalable targets) or where AWS checks further resources of its own
/// (RDS and ElastiCache creates check parameter, option and subnet groups; EC2 the VPC).
pub const GRANTS: &[Grant] = &[
    // --- every run ---
    grant("Identity", Always, &["sts:GetCallerIdentity"], &[], On::Any),
    grant(
        "ApplyLock",
        Always,
        &[
            "s3:CreateBucket",
            "s3:HeadBucket",
            "s3:PutPublicAccessBlock",
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            // The preview records (`capsule preview list`) sit next to the locks.
            "s3:ListObjectsV2",
        ],
        &["s3:TagResource"],
        On::Arns(&[
            "arn:aws:s3:::capsule-locks-{account}-*",
            "arn:aws:s3:::capsule-locks-{account}-*/locks/{capsule}/*",
            "arn:aws:s3:::capsule-locks-{account}-*/previews/{capsule}/*",
        ]),
    ),
    grant(
        "NetworkRead",
        Always,
        &[
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeSubnets",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeRouteTables",
            "ec2:DescribeAddresses",
            "ec2:DescribeNatGateways",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeFlowLogs",
            "ec2:DescribeSecurityGroups",
        ],
        &[],
        On::Any,
    ),
    grant(
        "Read",
        Always,
        &[
            "secretsmanager:ListSecrets",
            "secretsmanager:DescribeSecret",
            "logs:DescribeLogGroups",
            "logs:ListTagsForResource",
            "iam:ListRoles",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListRoleTags",
            "ecr:DescribeRepositories",
            "ecr:GetLifecyclePolicy",
            "ecr:ListTagsForResource",
            "ecs:ListClusters",
            "ecs:DescribeClusters",
            "ecs:ListServices",
            "ecs:DescribeServices",
            "ecs:ListTaskDefinitionFamilies",
            "ecs:ListTaskDefinitions",
            "ecs:DescribeTaskDefinition",
            "elbv2:DescribeLoadBalancers",
            "elbv2:DescribeLoadBalancerAttributes",
            "elbv2:DescribeTags",
            "elbv2:DescribeListeners",
            "elbv2:DescribeListenerCertificates",
            "elbv2:DescribeRules",
            "elbv2:DescribeTargetGroups",
            "elbv2:DescribeTargetGroupAttributes",
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:ListTagsForResource",
            "events:ListRules",
            "events:DescribeRule",
            "events:ListTargetsByRule",
            "events:ListTagsForResource",
            "rds:DescribeDBInstances",
            "rds:DescribeDBSubnetGroups",
            "rds:DescribeDBParameterGroups",
            "rds:DescribeDBParameters",
            "rds:DescribeDBSnapshots",
            "rds:ListTagsForResource",
            "elasticache:DescribeCacheSubnetGroups",
            "elasticache:DescribeReplicationGroups",
            "elasticache:DescribeCacheClusters",
            "elasticache:ListTagsForResource",
            "s3:ListBuckets",
            "s3:GetBucketTagging",
            "cloudfront:ListDistributions",
            "cloudfront:GetDistribution",
            "cloudfront:GetDistributionConfig",
            "cloudfront:ListTagsForResource",
            "cloudfront:ListOriginAccessControls",
            "cloudfront:GetOriginAccessControl",
            "acm:ListCertificates",
            "acm:DescribeCertificate",
            "acm:ListTagsForCertificate",
            "route53:ListHostedZones",
            "route53:ListHostedZonesByName",
            "route53:ListResourceRecordSets",
            "ses:ListIdentities",
            "ses:GetIdentityVerificationAttributes",
            "ses:GetIdentityDkimAttributes",
            "ses:GetIdentityMailFromDomainAttributes",
            "ses:GetSendQuota",
        ],
        &[],
        On::Any,
    ),
    // --- per kind: writes ---
    grant(
        "Secrets",
        Declared(&[Kind::Secret]),
        &[
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:DeleteSecret",
            "secretsmanager:RestoreSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
        ],
        &[],
        On::Arns(&["arn:aws:secretsmanager:*:{account}:secret:capsule/{capsule}/*"]),
    ),
    grant(
        "LogGroups",
        Declared(&[Kind::LogGroup]),
        &["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:DeleteLogGroup"],
        &["logs:TagResource", "logs:TagLogGroup"],
        On::Arns(&["arn:aws:logs:*:{account}:log-group:/capsule/{capsule}/*"]),
    ),
    grant(
        "Roles",
        Declared(&[Kind::IamRole]),
        &[
            "iam:CreateRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
        ],
        &["iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies"],
        On::Arns(&["arn:aws:iam::{account}:role/capsule/{capsule}/*"]),
    ),
    grant(
        "PassRoles",
        Declared(&[Kind::EcsTaskDefinition, Kind::EventRule]),
        &[],
        &["iam:PassRole"],
        On::PassRoleTo(&["ecs-tasks.amazonaws.com", "events.amazonaws.com"]),
    ),
    grant(
        "ServiceLinkedRoles",
        Declared(&[
            Kind::EcsCluster,
            Kind::Lb,
            Kind::AutoscalingTarget,
            Kind::RdsInstance,
            Kind::ElasticacheReplicationGroup,
            Kind::ElasticacheCluster,
        ]),
        &["iam:CreateServiceLinkedRole"],
        &[],
        On::ServiceLinkedRoles(&[]),
    ),
    grant(
        "SecurityGroups",
        Declared(&[Kind::SecurityGroup]),
        &[
            "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:DeleteSecurityGroup",
        ],
        &["ec2:CreateTags"],
        On::Any,
    ),
    grant(
        "Repositories",
        Declared(&[Kind::EcrRepository]),
        &[
            "ecr:CreateRepository",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:PutLifecyclePolicy",
            "ecr:DeleteRepository",
        ],
        // The image push and registry lookups go through the registry API, not the SDK.
        &[
            "ecr:TagResource",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ],
        On::Arns(&["arn:aws:ecr:*:{account}:repository/{names256}*"]),
    ),
    grant("RegistryLogin", Declared(&[Kind::EcrRepository]), &["ecr:GetAuthorizationToken"], &[], On::Any),
    grant(
        "Clusters",
        Declared(&[Kind::EcsCluster, Kind::EcsService]),
        &[
            "ecs:CreateCluster",
            "ecs:UpdateCluster",
            "ecs:PutClusterCapacityProviders",
            "ecs:DeleteCluster",
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
        ],
        &["ecs:TagResource"],
        On::Arns(&["arn:aws:ecs:*:{account}:cluster/{names255}*", "arn:aws:ecs:*:{account}:service/{names255}*/*"]),
    ),
    // `release` runs one task of a service's new task definition before its rollout and
    // reads the task's log stream; `capsule run` and `capsule logs` need the same.
    grant(
        "OneOffTasks",
        Declared(&[Kind::EcsService]),
        &["ecs:RunTask", "ecs:DescribeTasks"],
        &["ecs:TagResource"],
        On::Arns(&[
            "arn:aws:ecs:*:{account}:task-definition/{names255}*",
            "arn:aws:ecs:*:{account}:task/{names255}*/*",
        ]),
    ),
    grant(
        "TaskLogs",
        Declared(&[Kind::EcsService]),
        &["logs:GetLogEvents", "logs:FilterLogEvents"],
        &[],
        On::Arns(&["arn:aws:logs:*:{account}:log-group:/capsule/{capsule}/*"]),
    ),
    grant(
        "TaskDefinitions",
        Declared(&[Kind::EcsTaskDefinition]),
        &["ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"],
        &["ecs:TagResource"],
        On::Any,
    ),
    grant(
        "LoadBalancers",
        Declared(LB),
        &[
            "elbv2:CreateLoadBalancer",
            "elbv2:ModifyLoadBalancerAttributes",
            "elbv2:SetSecurityGroups",
            "elbv2:SetSubnets",
            "elbv2:SetIpAddressType",
            "elbv2:DeleteLoadBalancer",
            "elbv2:CreateTargetGroup",
            "elbv2:ModifyTargetGroup",
            "elbv2:ModifyTargetGroupAttributes",
            "elbv2:DeleteTargetGroup",
            "elbv2:CreateListener",
            "elbv2:ModifyListener",
            "elbv2:DeleteListener",
            "elbv2:AddListenerCertificates",
            "elbv2:RemoveListenerCertificates",
            "elbv2:CreateRule",
            "elbv2:ModifyRule",
            "elbv2:SetRulePriorities",
            "elbv2:DeleteRule",
        ],
        &["elasticloadbalancing:AddTags"],
        On::Arns(&[
            "arn:aws:elasticloadbalancing:*:{account}:loadbalancer/app/{names32}*",
            "arn:aws:elasticloadbalancing:*:{account}:targetgroup/{names32}*",
            "arn:aws:elasticloadbalancing:*:{account}:listener/app/{names32}*",
            "arn:aws:elasticloadbalancing:*:{account}:listener-rule/app/{names32}*",
        ]),
    ),
    grant(
        "Autoscaling",
        Declared(&[Kind::AutoscalingTarget, Kind::AutoscalingPolicy]),
        &[
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
        ],
        // Target tracking makes and removes CloudWatch alarms with the caller's permissions.
        &[
            "application-autoscaling:TagResource",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:DeleteAlarms",
        ],
        On::Any,
    ),
    grant(
        "Schedules",
        Declared(&[Kind::EventRule]),
        &["events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule"],
        &["events:TagResource"],
        On::Arns(&["arn:aws:events:*:{account}:rule/{names64}*"]),
    ),
    grant(
        "Databases",
        Declared(DATABASES),
        &[
            "rds:CreateDBSubnetGroup",
            "rds:ModifyDBSubnetGroup",
            "rds:DeleteDBSubnetGroup",
            "rds:CreateDBParameterGroup",
            "rds:ModifyDBParameterGroup",
            "rds:DeleteDBParameterGroup",
            "rds:CreateDBInstance",
            "rds:ModifyDBInstance",
            "rds:RebootDBInstance",
            "rds:DeleteDBInstance",
            "rds:AddTagsToResource",
            "rds:RemoveTagsFromResource",
            // `capsule backup` / `restore` (src/recovery.rs).
            "rds:CreateDBSnapshot",
            "rds:RestoreDBInstanceFromDBSnapshot",
        ],
        &[],
        On::Any,
    ),
    grant(
        "Caches",
        Declared(CACHES),
        &[
            "elasticache:CreateCacheSubnetGroup",
            "elasticache:ModifyCacheSubnetGroup",
            "elasticache:DeleteCacheSubnetGroup",
            "elasticache:CreateReplicationGroup",
            "elasticache:ModifyReplicationGroup",
            "elasticache:IncreaseReplicaCount",
            "elasticache:DecreaseReplicaCount",
            "elasticache:DeleteReplicationGroup",
            "elasticache:CreateCacheCluster",
            "elasticache:ModifyCacheCluster",
            "elasticache:DeleteCacheCluster",
            "elasticache:AddTagsToResource",
        ],
        &[],
        On::Any,
    ),
    grant(
        "Buckets",
        Declared(&[Kind::S3Bucket, Kind::S3BucketPolicy]),
        &[
            "s3:CreateBucket",
            "s3:HeadBucket",
            "s3:GetBucketVersioning",
            "s3:PutBucketVersioning",
            "s3:GetBucketEncryption",
            "s3:PutBucketEncryption",
            "s3:GetBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
            "s3:GetPublicAccessBlock",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketTagging",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:ListObjectVersions",
            "s3:ListObjectsV2",
            "s3:DeleteBucket",
        ],
        // CreateBucket with tags needs s3:TagResource as well (review finding F7).
        &["s3:TagResource"],
        On::Arns(&["arn:aws:s3:::{names63}*"]),
    ),
    grant(
        "SiteObjects",
        Declared(&[Kind::S3Bucket]),
        &[
            "s3:GetObject",
            "s3:HeadObject",
            "s3:PutObject",
            "s3:CreateMultipartUpload",
            "s3:UploadPart",
            "s3:CompleteMultipartUpload",
            "s3:DeleteObjects",
        ],
        &["s3:DeleteObjectVersion", "s3:AbortMultipartUpload"],
        On::Arns(&["arn:aws:s3:::{names63}*/*"]),
    ),
    grant(
        "Distributions",
        Declared(&[Kind::CloudfrontDistribution, Kind::CloudfrontOac]),
        &[
            "cloudfront:CreateDistributionWithTags",
            "cloudfront:UpdateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:CreateInvalidation",
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:UpdateOriginAccessControl",
            "cloudfront:DeleteOriginAccessControl",
        ],
        &[],
        On::Any,
    ),
    grant(
        "Certificates",
        Declared(&[Kind::AcmCertificate]),
        &["acm:RequestCertificate", "acm:AddTagsToCertificate", "acm:DeleteCertificate"],
        &[],
        On::Any,
    ),
    grant("Records", Declared(&[Kind::Route53Record]), &["route53:ChangeResourceRecordSets"], &[], On::RecordsInZones),
    grant(
        "Email",
        Declared(&[Kind::SesIdentity]),
        &[
            "ses:VerifyDomainIdentity",
            "ses:VerifyDomainDkim",
            "ses:SetIdentityDkimEnabled",
            "ses:SetIdentityMailFromDomain",
            "ses:DeleteIdentity",
        ],
        &[],
        On::Any,
    ),
    // --- network (VPC, subnets, gateways, endpoints, flow logs) ---
    // EC2 evaluates these against the VPC and subnets as well, whose ids AWS makes: `*`.
    grant(
        "Network",
        Declared(NETWORK),
        &[
            "ec2:CreateVpc",
            "ec2:ModifyVpcAttribute",
            "ec2:DeleteVpc",
            "ec2:CreateSubnet",
            "ec2:DeleteSubnet",
            "ec2:CreateInternetGateway",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:DeleteInternetGateway",
            "ec2:CreateRouteTable",
            "ec2:CreateRoute",
            "ec2:ReplaceRoute",
            "ec2:DeleteRoute",
            "ec2:AssociateRouteTable",
            "ec2:ReplaceRouteTableAssociation",
            "ec2:DisassociateRouteTable",
            "ec2:DeleteRouteTable",
            "ec2:AllocateAddress",
            "ec2:ReleaseAddress",
            "ec2:CreateNatGateway",
            "ec2:DeleteNatGateway",
            "ec2:CreateVpcEndpoint",
            "ec2:ModifyVpcEndpoint",
            "ec2:DeleteVpcEndpoints",
            "ec2:CreateFlowLogs",
            "ec2:DeleteFlowLogs",
        ],
        &["ec2:CreateTags"],
        On::Any,
    ),
    grant(
        "PassFlowLogRole",
        Declared(&[Kind::FlowLog]),
        &[],
        &["iam:PassRole"],
        On::PassRoleTo(&["vpc-flow-logs.amazonaws.com"]),
    ),
];

const NETWORK: &[Kind] = &[
    Kind::Vpc,
    Kind::InternetGateway,
    Kind::Subnet,
    Kind::ElasticIp,
    Kind::NatGateway,
    Kind::RouteTable,
    Kind::VpcEndpoint,
    Kind::FlowLog,
];

/// Service-linked roles AWS makes on the first use of a service, with the caller's
/// `iam:CreateServiceLinkedRole` (ECS's capsule creates itself, src/aws/adapters/ecs_cluster.rs).
const SERVICE_LINKED: &[(Kind, &str, &str)] = &[
    (Kind::EcsCluster, "ecs.amazonaws.com", "AWSServiceRoleForECS"),
    (Kind::Lb, "elasticloadbalancing.amazonaws.com", "AWSServiceRoleForElasticLoadBalancing"),
    (
        Kind::AutoscalingTarget,
        "ecs.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
    ),
    (Kind::RdsInstance, "rds.amazonaws.com", "AWSServiceRoleForRDS"),
    (Kind::ElasticacheReplicationGroup, "elasticache.amazonaws.com", "AWSServiceRoleForElastiCache"),
    (Kind::ElasticacheCluster, "elasticache.amazonaws.com", "AWSServiceRoleForElastiCache"),
];

/// The IAM action(s) AWS evaluates for a call label (mostly its own name; ELBv2's prefix is
/// `elasticloadbalancing`; S3 names several calls after the permission they share).
pub fn iam_actions(label: &str) -> Vec<String> {
    const RENAMED: &[(&str, &[&str])] = &[
        ("s3:HeadBucket", &["s3:ListBucket"]),
        ("s3:ListObjectsV2", &["s3:ListBucket"]),
        ("s3:ListObjectVersions", &["s3:ListBucketVersions"]),
        ("s3:ListBuckets", &["s3:ListAllMyBuckets"]),
        ("s3:HeadObject", &["s3:GetObject"]),
        ("s3:GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
        ("s3:PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
        ("s3:GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
        ("s3:PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
        ("s3:CreateMultipartUpload", &["s3:PutObject"]),
        ("s3:UploadPart", &["s3:PutObject"]),
        ("s3:CompleteMultipartUpload", &["s3:PutObject"]),
        ("s3:DeleteObjects", &["s3:DeleteObject"]),
        ("cloudfront:CreateDistributionWithTags", &["cloudfront:CreateDistribution", "cloudfront:TagResource"]),
    ];
    if let Some((_, actions)) = RENAMED.iter().find(|(l, _)| *l == label) {
        return actions.iter().map(|a| a.to_string()).collect();
    }
    match label.strip_prefix("elbv2:") {
        Some(op) => vec![format!("elasticloadbalancing:{op}")],
        None => vec![label.to_string()],
    }
}

/// What the capsules under a root use: their environments and the kinds they declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// (capsule, account guard).
    pub scopes: BTreeSet<(String, Option<String>)>,
    pub kinds: BTreeSet<Kind>,
    /// The `[dns] zone`s.
    pub zones: BTreeSet<String>,
}

impl Usage {
    /// Expands every environment of every capsule (offline) and notes what it declares.
    pub fn of(project: &Project, default_region: &str) -> Usage {
        let mut usage = Usage::default();
        for capsule in &project.capsules {
            for env in &capsule.environments {
                let account = env.config.capsule.account.clone();
                let ctx = ExpandContext {
                    account: account.clone().unwrap_or_else(|| "ACCOUNT".into()),
                    default_region: default_region.to_string(),
                };
                let desired = model::expand(capsule, env, &ctx);
                usage.kinds.extend(desired.resources.iter().map(|r| r.address.kind));
                usage.scopes.insert((capsule.name.clone(), account));
                usage.zones.extend(env.config.dns.as_ref().map(|d| d.zone.trim_end_matches('.').to_lowercase()));
            }
        }
        usage
    }

    fn declares(&self, when: When) -> bool {
        match when {
            When::Always => true,
            When::Declared(kinds) => kinds.iter().any(|k| self.kinds.contains(k)),
        }
    }
}

/// The policy document for `usage`: one statement per grant that applies.
pub fn document(usage: &Usage) -> Value {
    let statements: Vec<Value> =
        GRANTS.iter().filter(|g| usage.declares(g.when)).filter_map(|g| statement(g, usage)).collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Read-only families a run's reads (on `*`) are granted as a whole: shorter than their
/// calls one by one (an inline role policy holds 10,240 characters). None of them reads a
/// secret value or an object's data.
const READ_FAMILIES: &[&str] = &[
    "ec2:Describe",
    "ecs:Describe",
    "ecs:List",
    "elasticloadbalancing:Describe",
    "application-autoscaling:Describe",
    "events:Describe",
    "events:List",
    "rds:Describe",
    "elasticache:Describe",
    "cloudfront:Get",
    "cloudfront:List",
    "acm:Describe",
    "acm:List",
    "route53:List",
    "ses:Get",
    "ses:List",
];

fn read_family(action: String) -> String {
    match READ_FAMILIES
        .iter()
        .find(|f| action.strip_prefix(**f).is_some_and(|rest| rest.starts_with(char::is_uppercase)))
    {
        Some(family) => format!("{family}*"),
        None => action,
    }
}

/// Whether `actions` (IAM patterns, `*` a wildcard) grant `action`.
pub fn grants<'a>(mut actions: impl Iterator<Item = &'a str>, action: &str) -> bool {
    actions.any(|pattern| match pattern.split_once('*') {
        None => pattern == action,
        Some((head, tail)) => action.starts_with(head) && action[head.len()..].ends_with(tail),
    })
}

fn statement(g: &Grant, usage: &Usage) -> Option<Value> {
    let actions = g.calls.iter().flat_map(|c| iam_actions(c)).chain(g.also.iter().map(|a| a.to_string()));
    let actions: BTreeSet<String> = match (g.when, g.on) {
        (When::Always, On::Any) => actions.map(read_family).collect(),
        _ => actions.collect(),
    };
    let mut s = json!({ "Sid": g.sid, "Effect": "Allow", "Action": actions });
    match g.on {
        On::Any => s["Resource"] = json!("*"),
        On::Arns(templates) => {
            let arns: BTreeSet<String> = usage
                .scopes
                .iter()
                .flat_map(|(c, a)| templates.iter().map(move |t| fill(t, c, a.as_deref())))
                .collect();
            s["Resource"] = json!(arns);
        }
        On::PassRoleTo(services) => {
            s["Resource"] = json!(role_arns(usage));
            s["Condition"] = json!({ "StringEquals": { "iam:PassedToService": services } });
        }
        On::ServiceLinkedRoles(_) => {
            let used: BTreeMap<&str, &str> =
                SERVICE_LINKED.iter().filter(|(k, _, _)| usage.kinds.contains(k)).map(|(_, s, r)| (*s, *r)).collect();
            if used.is_empty() {
                return None;
            }
            let account = single_account(usage);
            let arns: Vec<String> =
                used.iter().map(|(s, r)| format!("arn:aws:iam::{account}:role/aws-service-role/{s}/{r}")).collect();
            s["Resource"] = json!(arns);
            s["Condition"] = json!({ "StringEquals": { "iam:AWSServiceName": used.keys().collect::<Vec<_>>() } });
        }
        On::RecordsInZones => {
            s["Resource"] = json!("arn:aws:route53:::hostedzone/*");
            if !usage.zones.is_empty() {
                let names: Vec<String> = usage.zones.iter().flat_map(|z| [z.clone(), format!("*.{z}")]).collect();
                s["Condition"] = json!({
                    "ForAllValues:StringLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": names }
                });
            }
        }
    }
    Some(s)
}

fn role_arns(usage: &Usage) -> BTreeSet<String> {
    usage.scopes.iter().map(|(c, a)| fill("arn:aws:iam::{account}:role/capsule/{capsule}/*", c, a.as_deref())).collect()
}

/// The account every capsule's guard names, if they agree; else `*`.
fn single_account(usage: &Usage) -> String {
    let accounts: BTreeSet<Option<&str>> = usage.scopes.iter().map(|(_, a)| a.as_deref()).collect();
    match accounts.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(a)] => a.to_string(),
        _ => "*".into(),
    }
}

fn fill(template: &str, capsule: &str, account: Option<&str>) -> String {
    let names = format!("{capsule}-");
    let mut out = template.replace("{account}", account.unwrap_or("*")).replace("{capsule}", capsule);
    for max in [32, 63, 64, 255, 256] {
        out = out.replace(&format!("{{names{max}}}"), &kept_prefix(&names, max));
    }
    out
}

/// What every name `model::aws_name` makes of a name starting with `prefix` starts with
/// when shortened to `max` characters (it keeps `max - 8`, trims `-`, adds a hash).
fn kept_prefix(prefix: &str, max: usize) -> String {
    let keep = max.saturating_sub(8);
    if prefix.len() <= keep { prefix.to_string() } else { prefix[..keep].trim_end_matches('-').to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::adapters::ALL_KINDS;

    fn usage(kinds: &[Kind]) -> Usage {
        Usage {
            scopes: [("shop".into(), None)].into(),
            kinds: kinds.iter().copied().collect(),
            zones: ["example.com".to_string()].into(),
        }
    }

    fn actions(doc: &Value) -> BTreeSet<String> {
        let statements = doc["Statement"].as_array().unwrap();
        statements
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap())
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    /// Every call label under src/: the argument of `.aws(..)` and of `const OP: &str = ..`.
    fn call_labels() -> BTreeSet<String> {
        let label = regex::Regex::new(r#"(?:\.aws\(|OP: &str = )"([a-z0-9-]+:[A-Za-z0-9]+)""#).unwrap();
        let mut out = BTreeSet::new();
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.extend(label.captures_iter(&text).map(|c| c[1].to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn every_call_in_the_source_is_granted_by_the_policy_of_every_kind() {
        let labels = call_labels();
        assert!(labels.len() > 150, "the scan found only {} call labels", labels.len());
        let granted = actions(&document(&usage(ALL_KINDS)));
        let listed: BTreeSet<&str> = GRANTS.iter().flat_map(|g| g.calls.iter().copied()).collect();
        let missing: Vec<&String> = labels.iter().filter(|l| !listed.contains(l.as_str())).collect();
        assert!(missing.is_empty(), "calls missing from GRANTS in src/aws/policy.rs: {missing:?}");
        for label in &labels {
            for action in iam_actions(label) {
                assert!(
                    grants(granted.iter().map(String::as_str), &action),
                    "{label} needs {action}, which the policy lacks"
                );
            }
        }
    }

    #[test]
    fn writes_of_a_kind_come_only_with_a_capsule_that_declares_it() {
        let without = actions(&document(&usage(&[Kind::Secret, Kind::S3Bucket])));
        assert!(!without.iter().any(|a| a.starts_with("rds:Create") || a.starts_with("rds:Delete")), "{without:?}");
        assert!(!without.contains("iam:PassRole") && !without.contains("ecs:CreateService"));
        assert!(
            grants(without.iter().map(String::as_str), "rds:DescribeDBInstances"),
            "every plan lists owned databases"
        );
        let with = actions(&document(&usage(&[Kind::RdsInstance])));
        assert!(with.contains("rds:CreateDBInstance") && with.contains("iam:CreateServiceLinkedRole"));
    }

    #[test]
    fn roles_are_passed_and_service_linked_roles_created_only_for_capsules_services() {
        let doc = document(&usage(&[Kind::IamRole, Kind::EcsCluster, Kind::EcsTaskDefinition]));
        let by_sid = |sid: &str| doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap().clone();
        let pass = by_sid("PassRoles");
        assert_eq!(pass["Resource"], json!(["arn:aws:iam::*:role/capsule/shop/*"]));
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"][0], "ecs-tasks.amazonaws.com");
        let slr = by_sid("ServiceLinkedRoles");
        assert_eq!(slr["Condition"]["StringEquals"]["iam:AWSServiceName"], json!(["ecs.amazonaws.com"]));
        assert_eq!(
            slr["Resource"],
            json!(["arn:aws:iam::*:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"])
        );
    }

    #[test]
    fn resources_are_narrowed_to_the_names_capsule_makes_even_shortened_ones() {
        let long = "a-very-long-capsule-name-of-31c";
        assert_eq!(fill("{names32}*", "shop", None), "shop-*");
        let tg = model::aws_name(&[long, "production", "api-8080"], 32);
        let pattern = fill("{names32}", long, None);
        assert!(tg.starts_with(&pattern) && pattern.len() >= 20, "{tg} vs {pattern}");
        let bucket = model::aws_name(&["shop", "production", "web", "123456789012"], 63);
        assert!(bucket.starts_with(&fill("{names63}", "shop", None)));
        assert_eq!(
            fill("arn:aws:iam::{account}:role/x", "s", Some("123456789012")),
            "arn:aws:iam::123456789012:role/x"
        );
    }

    #[test]
    fn wildcards_grant_what_they_cover_and_nothing_else() {
        let granted = ["ecs:Describe*", "s3:GetObject"];
        assert!(grants(granted.into_iter(), "ecs:DescribeServices"));
        assert!(!grants(granted.into_iter(), "ecs:CreateService"));
        assert!(!grants(granted.into_iter(), "s3:GetObjectAcl"));
        assert_eq!(read_family("secretsmanager:GetSecretValue".into()), "secretsmanager:GetSecretValue");
    }
}
