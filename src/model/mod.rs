//! The desired model: the AWS resources one capsule needs in one environment, with
//! addresses, deterministic AWS names, tags and a dependency graph. Pure: built from
//! configuration alone; values only AWS knows (ids, ARNs) are references to other
//! resources, resolved when live state is known.

mod expand;
mod graph;
pub mod k8s;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use expand::{Artifact, Desired, ExistingNetwork, ExpandContext, INTERFACE_ENDPOINTS, expand};
pub use graph::{Graph, GraphError};

/// The kinds of AWS resources capsule manages; one adapter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Secret,
    LogGroup,
    IamRole,
    Vpc,
    InternetGateway,
    Subnet,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    VpcEndpoint,
    FlowLog,
    EcrRepository,
    EcsCluster,
    Lb,
    LbListener,
    LbTargetGroup,
    LbListenerRule,
    EcsTaskDefinition,
    EcsService,
    AutoscalingTarget,
    AutoscalingPolicy,
    EventRule,
    DbSubnetGroup,
    DbParameterGroup,
    RdsInstance,
    CacheSubnetGroup,
    ElasticacheReplicationGroup,
    ElasticacheCluster,
    S3Bucket,
    S3BucketPolicy,
    CloudfrontOac,
    CloudfrontFunction,
    CloudfrontDistribution,
    AcmCertificate,
    Route53Record,
    SesIdentity,
    K8sNamespace,
    K8sSecret,
    K8sDeployment,
    K8sService,
    K8sIngress,
    K8sHpa,
    K8sCronjob,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::LogGroup => "log_group",
            Kind::IamRole => "iam_role",
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet_gateway",
            Kind::Subnet => "subnet",
            Kind::ElasticIp => "elastic_ip",
            Kind::NatGateway => "nat_gateway",
            Kind::RouteTable => "route_table",
            Kind::VpcEndpoint => "vpc_endpoint",
            Kind::FlowLog => "flow_log",
            Kind::SecurityGroup => "security_group",
            Kind::EcrRepository => "ecr_repository",
            Kind::EcsCluster => "ecs_cluster",
            Kind::Lb => "lb",
            Kind::LbListener => "lb_listener",
            Kind::LbTargetGroup => "lb_target_group",
            Kind::LbListenerRule => "lb_listener_rule",
            Kind::EcsTaskDefinition => "ecs_task_definition",
            Kind::EcsService => "ecs_service",
            Kind::AutoscalingTarget => "autoscaling_target",
            Kind::AutoscalingPolicy => "autoscaling_policy",
            Kind::EventRule => "event_rule",
            Kind::DbSubnetGroup => "db_subnet_group",
            Kind::DbParameterGroup => "db_parameter_group",
            Kind::RdsInstance => "rds_instance",
            Kind::CacheSubnetGroup => "cache_subnet_group",
            Kind::ElasticacheReplicationGroup => "elasticache_replication_group",
            Kind::ElasticacheCluster => "elasticache_cluster",
            Kind::S3Bucket => "s3_bucket",
            Kind::S3BucketPolicy => "s3_bucket_policy",
            Kind::CloudfrontOac => "cloudfront_oac",
            Kind::CloudfrontFunction => "cloudfront_function",
            Kind::CloudfrontDistribution => "cloudfront_distribution",
            Kind::AcmCertificate => "acm_certificate",
            Kind::Route53Record => "route53_record",
            Kind::SesIdentity => "ses_identity",
            Kind::K8sNamespace => "k8s_namespace",
            Kind::K8sSecret => "k8s_secret",
            Kind::K8sDeployment => "k8s_deployment",
            Kind::K8sService => "k8s_service",
            Kind::K8sIngress => "k8s_ingress",
            Kind::K8sHpa => "k8s_hpa",
            Kind::K8sCronjob => "k8s_cronjob",
        }
    }

    /// Resources holding data: never deleted or replaced without `--allow-destroy`.
    pub fn is_stateful(self) -> bool {
        matches!(
            self,
            Kind::RdsInstance
                | Kind::ElasticacheReplicationGroup
                | Kind::ElasticacheCluster
                | Kind::S3Bucket
                | Kind::Secret
                | Kind::EcrRepository
                | Kind::K8sSecret
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `<capsule>.<env>.<type>.<name>`, e.g. `shop.production.ecs_service.api`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    pub capsule: String,
    pub env: String,
    pub kind: Kind,
    pub name: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.capsule, self.env, self.kind, self.name)
    }
}

/// One AWS resource as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub address: Address,
    /// The deterministic AWS name (or identifier) of the resource.
    pub aws_name: String,
    /// AWS region the resource lives in (CloudFront certificates are always us-east-1).
    pub region: String,
    /// Desired attributes, already in the normalised form the planner compares.
    /// A value `{"$ref": "<address>", "attr": "<output>"}` is another resource's output.
    pub attributes: BTreeMap<String, Value>,
    /// Addresses this resource needs to exist first.
    pub depends_on: Vec<Address>,
    /// Ownership tags every capsule resource carries.
    pub tags: BTreeMap<String, String>,
}

impl Resource {
    pub fn is_stateful(&self) -> bool {
        self.address.kind.is_stateful()
    }
}

/// A reference to another resource's output, as stored in attributes.
pub fn reference(address: &Address, attr: &str) -> Value {
    serde_json::json!({ "$ref": address.to_string(), "attr": attr })
}

/// The reference inside a value, if it is one: (address, output attribute).
pub fn as_reference(value: &Value) -> Option<(&str, &str)> {
    let obj = value.as_object()?;
    Some((obj.get("$ref")?.as_str()?, obj.get("attr")?.as_str()?))
}

/// The tag keys of DESIGN section 3.
pub const TAG_NAME: &str = "capsule:name";
pub const TAG_ENV: &str = "capsule:env";
pub const TAG_COMPONENT: &str = "capsule:component";
pub const TAG_MANAGED_BY: &str = "managed-by";

pub fn ownership_tags(capsule: &str, env: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_NAME.to_string(), capsule.to_string()),
        (TAG_ENV.to_string(), env.to_string()),
        (TAG_COMPONENT.to_string(), component.to_string()),
        (TAG_MANAGED_BY.to_string(), "capsule".to_string()),
    ])
}

/// `<capsule>-<env>-<name>`, shortened to `max` characters with a stable hash suffix when
/// AWS limits the length (load balancers and target groups allow 32).
pub fn aws_name(parts: &[&str], max: usize) -> String {
    let full = parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("-");
    if full.len() <= max {
        return full;
    }
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(full.as_bytes()));
    let keep = max.saturating_sub(8);
    format!("{}-{}", full[..keep].trim_end_matches('-'), &hash[..7])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_joined_and_shortened_stably() {
        assert_eq!(aws_name(&["shop", "production", "api"], 32), "shop-production-api");
        let long = aws_name(&["a-very-long-capsule-name", "production", "checkout"], 32);
        assert_eq!(long.len(), 32);
        assert_eq!(long, aws_name(&["a-very-long-capsule-name", "production", "checkout"], 32));
        assert_ne!(long, aws_name(&["a-very-long-capsule-name", "production", "checkouts"], 32));
        assert!(long.starts_with("a-very-long-capsule-name"));
    }

    #[test]
    fn addresses_render_as_in_the_design() {
        let a =
            Address { capsule: "shop".into(), env: "production".into(), kind: Kind::EcsService, name: "api".into() };
        assert_eq!(a.to_string(), "shop.production.ecs_service.api");
    }
}
