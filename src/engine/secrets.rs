//! Writing a user secret's value (`capsule secrets set`): into the declared secret, created
//! first when needed, only when it is tagged as the capsule's. The value is never printed
//! or logged, and never reaches the plan.

use crate::aws::adapters::adapter;
use crate::model::{Address, Kind};

use super::Reconcile;

/// Stores a user secret's value, creating the (declared) secret first when needed.
/// Returns the new version id. The value is never logged.
pub async fn put_secret_value(r: &Reconcile, name: &str, value: String) -> anyhow::Result<String> {
    let address = Address {
        capsule: r.desired.capsule.clone(),
        env: r.desired.env.clone(),
        kind: Kind::Secret,
        name: name.to_string(),
    };
    let resource = r.desired.get(&address).ok_or_else(|| anyhow::anyhow!("{address} is not part of the capsule"))?;
    let secrets = adapter(Kind::Secret).ok_or_else(|| anyhow::anyhow!("secrets are not supported"))?;
    match r.observation.live.get(&address.to_string()) {
        Some(live) if !live.is_owned_by(&r.desired.capsule, &r.desired.env) => {
            anyhow::bail!(
                "secret {} exists but is not tagged as this capsule's; capsule will not write to it",
                resource.aws_name
            )
        }
        Some(_) => {}
        None => {
            secrets.create(&r.cx, resource, &resource.attributes).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    r.cx.aws
        .secrets(&resource.region)
        .put_secret_value()
        .secret_id(&resource.aws_name)
        .secret_string(value)
        .send()
        .await
        .map(|o| o.version_id().unwrap_or_default().to_string())
        .map_err(|e| anyhow::anyhow!("{}", crate::aws::error::classify("secretsmanager:PutSecretValue", e)))
}
