//! The AWS edge: one client factory from one shared SDK configuration, error mapping, and
//! one adapter per resource type. Nothing outside this module touches an SDK type.

pub mod account;
pub mod adapter;
pub mod adapters;
pub mod error;
pub mod network;
pub mod policy;
pub mod retry;
pub mod task;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;

pub use account::AccountListings;
pub use adapter::{Adapter, Cx, Live, Seen};
pub use error::{AwsError, AwsResultExt, ErrorKind, FoundExt};

/// Builds service clients from one SDK configuration: the standard credential chain and
/// region, retries in standard mode, and `AWS_ENDPOINT_URL` when set (the test bed), or a
/// service's own `AWS_ENDPOINT_URL_<SERVICE>` (the site benchmark's S3 server).
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
            .force_path_style(s3_endpoint_set(&self.sdk))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

/// Whether S3 requests go to a configured endpoint: S3's own (`AWS_ENDPOINT_URL_S3` or a
/// profile's `s3 = endpoint_url`), which the S3 client prefers, or the shared one.
fn s3_endpoint_set(sdk: &SdkConfig) -> bool {
    let own = ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build();
    let own = own.ok().and_then(|key| sdk.service_config().and_then(|c| c.load_config(key)));
    own.is_some() || sdk.endpoint_url().is_some()
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_types::service_config::LoadServiceConfig;

    /// A service configuration with one endpoint, for one service.
    #[derive(Debug)]
    struct OneEndpoint(&'static str);

    impl LoadServiceConfig for OneEndpoint {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            (key.service_id() == self.0 && key.env() == "AWS_ENDPOINT_URL").then(|| "http://localhost:9000".into())
        }
    }

    #[test]
    fn s3_goes_path_style_with_its_own_endpoint_alone() {
        let sdk = SdkConfig::builder().service_config(OneEndpoint("S3")).build();
        assert!(s3_endpoint_set(&sdk));
    }

    #[test]
    fn s3_goes_path_style_with_the_shared_endpoint() {
        let sdk = SdkConfig::builder().endpoint_url("http://127.0.0.1:5000").build();
        assert!(s3_endpoint_set(&sdk));
    }

    #[test]
    fn another_service_endpoint_leaves_s3_virtual_hosted() {
        let sdk = SdkConfig::builder().service_config(OneEndpoint("CloudFront")).build();
        assert!(!s3_endpoint_set(&sdk));
        assert!(!s3_endpoint_set(&SdkConfig::builder().build()));
    }
}
