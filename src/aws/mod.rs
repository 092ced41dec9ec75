//! The AWS edge: one client factory from one shared SDK configuration, error mapping, and
//! one adapter per resource type. Nothing outside this module touches an SDK type.

pub mod account;
pub mod adapter;
pub mod adapters;
pub mod error;
pub mod network;
pub mod policy;
pub mod retry;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

pub use account::AccountListings;
pub use adapter::{Adapter, Cx, Live, Seen};
pub use error::{AwsError, AwsResultExt, ErrorKind, FoundExt};

/// Builds service clients from one SDK configuration: the standard credential chain and
/// region, retries in standard mode, and `AWS_ENDPOINT_URL` when set (the test bed).
#[derive(Clone, Debug)]
pub struct Aws {
    sdk: SdkConfig,
}

impl Aws {
    pub async fn from_env() -> Aws {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
        Aws { sdk }
    }

    /// The region of the configuration, if any.
    pub fn region(&self) -> Option<String> {
        self.sdk.region().map(|r| r.to_string())
    }

    fn regional(&self, region: &str) -> SdkConfig {
        self.sdk.to_builder().region(Region::new(region.to_string())).build()
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        // Path-style addressing when an endpoint is set: an emulator or gateway on an IP
        // address or `localhost` has no per-bucket host names.
        let conf = aws_sdk_s3::config::Builder::from(&self.regional(region))
            .force_path_style(self.sdk.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

macro_rules! clients {
    ($($name:ident => $krate:ident),* $(,)?) => {
        impl Aws {
            $(pub fn $name(&self, region: &str) -> $krate::Client {
                $krate::Client::new(&self.regional(region))
            })*
        }
    };
}

clients! {
    sts => aws_sdk_sts,
    secrets => aws_sdk_secretsmanager,
    logs => aws_sdk_cloudwatchlogs,
    iam => aws_sdk_iam,
    ec2 => aws_sdk_ec2,
    ecr => aws_sdk_ecr,
    ecs => aws_sdk_ecs,
    elb => aws_sdk_elasticloadbalancingv2,
    autoscaling => aws_sdk_applicationautoscaling,
    events => aws_sdk_eventbridge,
    rds => aws_sdk_rds,
    elasticache => aws_sdk_elasticache,
    cloudfront => aws_sdk_cloudfront,
    route53 => aws_sdk_route53,
    acm => aws_sdk_acm,
    ses => aws_sdk_ses,
}

impl Aws {
    /// The account the credentials belong to (STS GetCallerIdentity).
    pub async fn account_id(&self, region: &str) -> Result<String, AwsError> {
        let out = self.sts(region).get_caller_identity().send().await.aws("sts:GetCallerIdentity")?;
        out.account.ok_or_else(|| AwsError::new(ErrorKind::Other, "sts:GetCallerIdentity", "no account in the answer"))
    }
}
