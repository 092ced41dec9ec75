//! One run's connection to AWS: the shared client factory, the account the credentials
//! act in, the region each capsule environment deploys to, and the run's account-wide
//! listings (empty at first). Connects and identifies only; reads no resource.

use std::sync::Arc;

use crate::aws::{AccountListings, Aws};
use crate::config::Capsule;

/// The region of the AWS configuration capsule runs with, for capsules that set none.
pub fn default_region() -> String {
    std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).unwrap_or_else(|_| "us-east-1".into())
}

/// One run's connection to AWS: the shared client factory and the account it acts in.
pub struct Session {
    pub aws: Aws,
    pub account: String,
    pub default_region: String,
    /// What the run has listed of the account, shared by every capsule environment it
    /// plans or applies (each write drops what it changed).
    pub listings: Arc<AccountListings>,
}

impl Session {
    pub async fn connect() -> anyhow::Result<Session> {
        let aws = Aws::from_env().await;
        let default_region = aws.region().unwrap_or_else(default_region);
        let account = aws
            .account_id(&default_region)
            .await
            .map_err(|e| anyhow::anyhow!("cannot identify the AWS account ({e}); are AWS credentials configured?"))?;
        Ok(Session { aws, account, default_region, listings: Arc::default() })
    }
}

/// The region a capsule environment deploys to (the file's, else the session's default).
pub fn region_of(session: &Session, capsule: &Capsule, env: &str) -> String {
    capsule
        .environment(env)
        .and_then(|e| e.config.capsule.region.clone())
        .unwrap_or_else(|| session.default_region.clone())
}
