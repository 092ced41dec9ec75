//! One adapter per resource type, read and write code side by side.

mod acm_certificate;
mod autoscaling;
mod cache_subnet_group;
mod cloudfront_distribution;
mod cloudfront_oac;
mod db_parameter_group;
mod db_subnet_group;
mod ec2;
mod ecr_repository;
mod ecs_cluster;
pub(crate) mod ecs_service;
mod ecs_task_definition;
mod elastic_ip;
mod elasticache;
mod elasticache_cluster;
mod elasticache_replication_group;
mod event_rule;
mod flow_log;
mod iam_role;
mod internet_gateway;
mod lb;
mod lb_listener;
mod lb_listener_rule;
mod lb_target_group;
mod log_group;
mod nat_gateway;
mod owned;
pub(crate) mod rds_instance;
mod route53_record;
mod route_table;
mod s3_bucket;
mod s3_bucket_policy;
mod secret;
mod security_group;
mod sensitive;
mod ses_identity;
mod settled;
mod subnet;
mod vpc;
mod vpc_endpoint;

use crate::model::Kind;

use super::Adapter;
use settled::Settled;

/// The adapter of a kind, if capsule can manage it yet; reached through `Settled`, which
/// retries its temporary failures (`settled.rs`).
pub fn adapter(kind: Kind) -> Option<&'static dyn Adapter> {
    Some(match kind {
        Kind::Secret => &SECRET,
        Kind::LogGroup => &LOG_GROUP,
        Kind::IamRole => &IAM_ROLE,
        Kind::SecurityGroup => &SECURITY_GROUP,
        Kind::EcrRepository => &ECR_REPOSITORY,
        Kind::EcsCluster => &ECS_CLUSTER,
        Kind::EcsTaskDefinition => &ECS_TASK_DEFINITION,
        Kind::EcsService => &ECS_SERVICE,
        Kind::S3Bucket => &S3_BUCKET,
        Kind::S3BucketPolicy => &S3_BUCKET_POLICY,
        Kind::CloudfrontOac => &CLOUDFRONT_OAC,
        Kind::CloudfrontDistribution => &CLOUDFRONT_DISTRIBUTION,
        Kind::Lb => &LB,
        Kind::LbTargetGroup => &LB_TARGET_GROUP,
        Kind::LbListener => &LB_LISTENER,
        Kind::LbListenerRule => &LB_LISTENER_RULE,
        Kind::AutoscalingTarget => &AUTOSCALING_TARGET,
        Kind::AutoscalingPolicy => &AUTOSCALING_POLICY,
        Kind::EventRule => &EVENT_RULE,
        Kind::Route53Record => &ROUTE53_RECORD,
        Kind::AcmCertificate => &ACM_CERTIFICATE,
        Kind::SesIdentity => &SES_IDENTITY,
        Kind::DbSubnetGroup => &DB_SUBNET_GROUP,
        Kind::DbParameterGroup => &DB_PARAMETER_GROUP,
        Kind::RdsInstance => &RDS_INSTANCE,
        Kind::CacheSubnetGroup => &CACHE_SUBNET_GROUP,
        Kind::ElasticacheReplicationGroup => &ELASTICACHE_REPLICATION_GROUP,
        Kind::ElasticacheCluster => &ELASTICACHE_CLUSTER,
        Kind::Vpc => &VPC,
        Kind::InternetGateway => &INTERNET_GATEWAY,
        Kind::Subnet => &SUBNET,
        Kind::ElasticIp => &ELASTIC_IP,
        Kind::NatGateway => &NAT_GATEWAY,
        Kind::RouteTable => &ROUTE_TABLE,
        Kind::VpcEndpoint => &VPC_ENDPOINT,
        Kind::FlowLog => &FLOW_LOG,
        _ => return None,
    })
}

static SECRET: Settled = Settled(&secret::SecretAdapter);
static LOG_GROUP: Settled = Settled(&log_group::LogGroupAdapter);
static IAM_ROLE: Settled = Settled(&iam_role::IamRoleAdapter);
static SECURITY_GROUP: Settled = Settled(&security_group::SecurityGroupAdapter);
static ECR_REPOSITORY: Settled = Settled(&ecr_repository::EcrRepositoryAdapter);
static ECS_CLUSTER: Settled = Settled(&ecs_cluster::EcsClusterAdapter);
static ECS_TASK_DEFINITION: Settled = Settled(&ecs_task_definition::EcsTaskDefinitionAdapter);
static ECS_SERVICE: Settled = Settled(&ecs_service::EcsServiceAdapter);
static S3_BUCKET: Settled = Settled(&s3_bucket::S3BucketAdapter);
static S3_BUCKET_POLICY: Settled = Settled(&s3_bucket_policy::S3BucketPolicyAdapter);
static CLOUDFRONT_OAC: Settled = Settled(&cloudfront_oac::CloudfrontOacAdapter);
static CLOUDFRONT_DISTRIBUTION: Settled = Settled(&cloudfront_distribution::CloudfrontDistributionAdapter);
static LB: Settled = Settled(&lb::LbAdapter);
static LB_TARGET_GROUP: Settled = Settled(&lb_target_group::LbTargetGroupAdapter);
static LB_LISTENER: Settled = Settled(&lb_listener::LbListenerAdapter);
static LB_LISTENER_RULE: Settled = Settled(&lb_listener_rule::LbListenerRuleAdapter);
static AUTOSCALING_TARGET: Settled = Settled(&autoscaling::AutoscalingTargetAdapter);
static AUTOSCALING_POLICY: Settled = Settled(&autoscaling::AutoscalingPolicyAdapter);
static EVENT_RULE: Settled = Settled(&event_rule::EventRuleAdapter);
static ROUTE53_RECORD: Settled = Settled(&route53_record::Route53RecordAdapter);
static ACM_CERTIFICATE: Settled = Settled(&acm_certificate::AcmCertificateAdapter);
static SES_IDENTITY: Settled = Settled(&ses_identity::SesIdentityAdapter);
static DB_SUBNET_GROUP: Settled = Settled(&db_subnet_group::DbSubnetGroupAdapter);
static DB_PARAMETER_GROUP: Settled = Settled(&db_parameter_group::DbParameterGroupAdapter);
static RDS_INSTANCE: Settled = Settled(&rds_instance::RdsInstanceAdapter);
static CACHE_SUBNET_GROUP: Settled = Settled(&cache_subnet_group::CacheSubnetGroupAdapter);
static ELASTICACHE_REPLICATION_GROUP: Settled =
    Settled(&elasticache_replication_group::ElasticacheReplicationGroupAdapter);
static ELASTICACHE_CLUSTER: Settled = Settled(&elasticache_cluster::ElasticacheClusterAdapter);
static VPC: Settled = Settled(&vpc::VpcAdapter);
static INTERNET_GATEWAY: Settled = Settled(&internet_gateway::InternetGatewayAdapter);
static SUBNET: Settled = Settled(&subnet::SubnetAdapter);
static ELASTIC_IP: Settled = Settled(&elastic_ip::ElasticIpAdapter);
static NAT_GATEWAY: Settled = Settled(&nat_gateway::NatGatewayAdapter);
static ROUTE_TABLE: Settled = Settled(&route_table::RouteTableAdapter);
static VPC_ENDPOINT: Settled = Settled(&vpc_endpoint::VpcEndpointAdapter);
static FLOW_LOG: Settled = Settled(&flow_log::FlowLogAdapter);

/// Every kind with an adapter, in creation order (deletes walk it backwards).
pub fn managed_kinds() -> Vec<Kind> {
    ALL_KINDS.iter().copied().filter(|k| adapter(*k).is_some()).collect()
}

/// All kinds in an order where a kind never depends on a later one.
pub const ALL_KINDS: &[Kind] = &[
    Kind::Secret,
    Kind::LogGroup,
    Kind::IamRole,
    Kind::Vpc,
    Kind::InternetGateway,
    Kind::Subnet,
    Kind::ElasticIp,
    Kind::NatGateway,
    Kind::RouteTable,
    Kind::SecurityGroup,
    Kind::VpcEndpoint,
    Kind::FlowLog,
    Kind::EcrRepository,
    Kind::EcsCluster,
    Kind::DbSubnetGroup,
    Kind::DbParameterGroup,
    Kind::CacheSubnetGroup,
    Kind::RdsInstance,
    Kind::ElasticacheReplicationGroup,
    Kind::ElasticacheCluster,
    Kind::SesIdentity,
    Kind::AcmCertificate,
    Kind::Lb,
    Kind::LbTargetGroup,
    Kind::LbListener,
    Kind::LbListenerRule,
    Kind::EcsTaskDefinition,
    Kind::EcsService,
    Kind::AutoscalingTarget,
    Kind::AutoscalingPolicy,
    Kind::EventRule,
    Kind::S3Bucket,
    Kind::CloudfrontOac,
    Kind::CloudfrontFunction,
    Kind::CloudfrontDistribution,
    Kind::S3BucketPolicy,
    Kind::Route53Record,
];

/// Tags as AWS lists them -> a map.
pub(crate) fn tag_map<T>(
    tags: &[T],
    kv: impl Fn(&T) -> (Option<&str>, Option<&str>),
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| match kv(t) {
            (Some(k), Some(v)) => Some((k.to_string(), v.to_string())),
            (Some(k), None) => Some((k.to_string(), String::new())),
            _ => None,
        })
        .collect()
}
