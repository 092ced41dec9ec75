//! Writing a user secret's value: `capsule secrets set`, and a preview's values copied from
//! its template's `secrets_from` environment. Only into a declared secret tagged as the
//! capsule's (created first when needed). A value is never printed or logged, and never
//! reaches the plan.

use std::io::Read;

use crate::aws::adapters::adapter;
use crate::config::Project;
use crate::model::{self, Address, Desired, ExpandContext, Kind};

use super::{Reconcile, Session, reconcile};

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

/// `capsule secrets set`: checks that `name` is declared, reads its value from `input`
/// (one trailing newline dropped), stores it and says which version it became.
pub async fn set_secret(
    project: &Project,
    capsule: &str,
    env: &str,
    name: &str,
    input: &mut dyn Read,
) -> anyhow::Result<()> {
    let c = project.capsule(capsule).ok_or_else(|| anyhow::anyhow!("no capsule named `{capsule}`"))?;
    let e = c.environment(env).ok_or_else(|| anyhow::anyhow!("capsule `{capsule}` has no environment `{env}`"))?;
    if !e.config.secrets.contains_key(name) {
        anyhow::bail!(
            "capsule `{capsule}` declares no secret `{name}` in [secrets] (declared: {})",
            e.config.secrets.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let mut value = String::new();
    input.read_to_string(&mut value)?;
    let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value).to_string();
    if value.is_empty() {
        anyhow::bail!(
            "no value on stdin: pipe it in, e.g. `printf %s \"$VALUE\" | capsule secrets set {capsule} {env} {name}`"
        );
    }
    let i = project.capsules.iter().position(|x| x.name == capsule).unwrap_or_default();
    if e.config.capsule.runtime == crate::config::types::Runtime::Kubernetes {
        crate::k8s::set_secret(project, i, env, name, value).await?;
        println!("Stored a new value for secret `{name}` of {capsule}/{env} (Secret secret-{name}).");
        return Ok(());
    }
    let session = Session::connect().await?;
    let r = reconcile(&session, project, i, env, false).await?;
    let version = put_secret_value(&r, name, value).await?;
    println!("Stored a new value for secret `{name}` of {capsule}/{env} (version {version}).");
    Ok(())
}

/// A preview's user secrets before its apply: with `from` (the template's `secrets_from`),
/// each secret without a value gets the current value of the same secret of `from`, copied
/// inside AWS and never printed. Returns the secrets still without a value, for the comment.
pub async fn fill_preview_secrets(
    session: &Session,
    project: &Project,
    capsule: usize,
    env: &str,
    from: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let c = &project.capsules[capsule];
    let declared: Vec<String> =
        c.environment(env).map(|e| e.config.secrets.keys().cloned().collect()).unwrap_or_default();
    if declared.is_empty() {
        return Ok(Vec::new());
    }
    let r = reconcile(session, project, capsule, env, false).await?;
    // The source's secret names only: its desired model, not a plan against AWS.
    let ctx = ExpandContext { account: session.account.clone(), default_region: session.default_region.clone() };
    let source = from.and_then(|f| c.environment(f)).map(|e| model::expand(c, e, &ctx));
    let mut empty = Vec::new();
    for name in declared {
        let aws_name = |desired: &Desired| {
            let a =
                Address { capsule: c.name.clone(), env: desired.env.clone(), kind: Kind::Secret, name: name.clone() };
            desired.get(&a).map(|res| (res.region.clone(), res.aws_name.clone()))
        };
        let Some((region, mine)) = aws_name(&r.desired) else { continue };
        if current_value(session, &region, &mine).await?.is_some() {
            continue;
        }
        let copied = match source.as_ref().and_then(aws_name) {
            Some((src_region, theirs)) => current_value(session, &src_region, &theirs).await?,
            None => None,
        };
        match copied {
            Some(value) => {
                put_secret_value(&r, &name, value).await?;
                eprintln!("Secret `{name}` of {}/{env}: copied from {}.", c.name, from.unwrap_or_default());
            }
            None => empty.push(name),
        }
    }
    Ok(empty)
}

/// The current value of `aws_name`, or `None` when it has none (Secrets Manager answers
/// `ResourceNotFoundException` both for no secret and for a secret without a value).
async fn current_value(session: &Session, region: &str, aws_name: &str) -> anyhow::Result<Option<String>> {
    let sm = session.aws.secrets(region);
    match sm.get_secret_value().secret_id(aws_name).send().await {
        Ok(v) => Ok(v.secret_string().map(str::to_string)),
        Err(e) => {
            let e = crate::aws::error::classify("secretsmanager:GetSecretValue", e);
            if e.kind == crate::aws::ErrorKind::NotFound { Ok(None) } else { Err(e.into()) }
        }
    }
}
