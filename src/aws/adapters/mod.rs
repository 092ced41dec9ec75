//! One adapter per resource type, read and write code side by side.

mod acm_certificate;
mod autoscaling;
mod cache_subnet_group;
mod cloudfront_distribution;
mod cloudfront_oac;
mod db_subnet_group;
mod ecr_repository;
mod ecs_cluster;
mod ecs_service;
mod ecs_task_definition;
mod elasticache;
mod elasticache_cluster;
mod elasticache_replication_group;
mod event_rule;
mod iam_role;
mod lb;
mod lb_listener;
mod lb_listener_rule;
mod lb_target_group;
mod log_group;
mod owned;
pub(crate) mod rds_instance;
mod route53_record;
mod s3_bucket;
mod s3_bucket_policy;
mod secret;
mod security_group;
mod sensitive;
mod ses_identity;

use crate::model::Kind;

use super::Adapter;

/// The adapter of a kind, if capsule can manage it yet.
pub fn adapter(kind: Kind) -> Option<&'static dyn Adapter> {
    Some(match kind {
        Kind::Secret => &secret::SecretAdapter,
        Kind::LogGroup => &log_group::LogGroupAdapter,
        Kind::IamRole => &iam_role::IamRoleAdapter,
        Kind::SecurityGroup => &security_group::SecurityGroupAdapter,
        Kind::EcrRepository => &ecr_repository::EcrRepositoryAdapter,
        Kind::EcsCluster => &ecs_cluster::EcsClusterAdapter,
        Kind::EcsTaskDefinition => &ecs_task_definition::EcsTaskDefinitionAdapter,
        Kind::EcsService => &ecs_service::EcsServiceAdapter,
        Kind::S3Bucket => &s3_bucket::S3BucketAdapter,
        Kind::S3BucketPolicy => &s3_bucket_policy::S3BucketPolicyAdapter,
        Kind::CloudfrontOac => &cloudfront_oac::CloudfrontOacAdapter,
        Kind::CloudfrontDistribution => &cloudfront_distribution::CloudfrontDistributionAdapter,
        Kind::Lb => &lb::LbAdapter,
        Kind::LbTargetGroup => &lb_target_group::LbTargetGroupAdapter,
        Kind::LbListener => &lb_listener::LbListenerAdapter,
        Kind::LbListenerRule => &lb_listener_rule::LbListenerRuleAdapter,
        Kind::AutoscalingTarget => &autoscaling::AutoscalingTargetAdapter,
        Kind::AutoscalingPolicy => &autoscaling::AutoscalingPolicyAdapter,
        Kind::EventRule => &event_rule::EventRuleAdapter,
        Kind::Route53Record => &route53_record::Route53RecordAdapter,
        Kind::AcmCertificate => &acm_certificate::AcmCertificateAdapter,
        Kind::SesIdentity => &ses_identity::SesIdentityAdapter,
        Kind::DbSubnetGroup => &db_subnet_group::DbSubnetGroupAdapter,
        Kind::RdsInstance => &rds_instance::RdsInstanceAdapter,
        Kind::CacheSubnetGroup => &cache_subnet_group::CacheSubnetGroupAdapter,
        Kind::ElasticacheReplicationGroup => &elasticache_replication_group::ElasticacheReplicationGroupAdapter,
        Kind::ElasticacheCluster => &elasticache_cluster::ElasticacheClusterAdapter,
        _ => return None,
    })
}

/// Every kind with an adapter, in creation order (deletes walk it backwards).
pub fn managed_kinds() -> Vec<Kind> {
    ALL_KINDS.iter().copied().filter(|k| adapter(*k).is_some()).collect()
}

/// All kinds in an order where a kind never depends on a later one.
pub const ALL_KINDS: &[Kind] = &[
    Kind::Secret,
    Kind::LogGroup,
    Kind::IamRole,
    Kind::SecurityGroup,
    Kind::EcrRepository,
    Kind::EcsCluster,
    Kind::DbSubnetGroup,
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
