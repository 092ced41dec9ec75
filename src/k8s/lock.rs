//! The apply lock of a Kubernetes capsule environment: a `coordination.k8s.io/v1` Lease
//! `capsule-lock` in its namespace holding the same holder record as the AWS lock
//! (`crate::lock`), with the same semantics: one creator wins (create is atomic), a holder
//! that is certainly gone is taken over (compare-and-swap on `resourceVersion`), anything
//! else waits for `capsule unlock`. Never touches a Lease of another name.

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PostParams, Preconditions};
use serde_json::json;

use super::{api, server_side};
use crate::lock::{Holder, LockError};
use crate::model::Kind;
use crate::model::k8s::{Desired, labels};

/// The Lease's name, in the environment's namespace.
pub const LEASE: &str = "capsule-lock";
/// The annotation holding the holder record (JSON).
const HOLDER: &str = "capsule/holder";

/// A held lock. Release it with [`Lock::release`]; dropped without release (a crash), it
/// stays until a later apply sees its holder gone, or `capsule unlock`.
pub struct Lock {
    api: Api<Lease>,
    pub holder: Holder,
    uid: Option<String>,
    resource_version: Option<String>,
}

fn lease_of(holder: &Holder, d: &Desired, resource_version: Option<String>) -> anyhow::Result<Lease> {
    let record = serde_json::to_string(holder)?;
    let acquired = humantime::parse_rfc3339(&holder.acquired_at).unwrap_or_else(|_| std::time::SystemTime::now());
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": LEASE, "namespace": d.namespace, "resourceVersion": resource_version,
            "labels": labels(&d.capsule, &d.env, "lock"),
            "annotations": { HOLDER: record },
        },
        "spec": {
            "holderIdentity": holder.owner,
            "acquireTime": humantime::format_rfc3339_micros(acquired).to_string(),
        },
    }))?)
}

fn holder_of(lease: &Lease) -> Holder {
    let record = lease.metadata.annotations.as_ref().and_then(|a| a.get(HOLDER));
    record.and_then(|r| serde_json::from_str(r).ok()).unwrap_or_else(|| {
        let who = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
        Holder::unknown(&who.unwrap_or_else(|| format!("(unreadable Lease {LEASE})")))
    })
}

fn held(d: &Desired, holder: Holder) -> anyhow::Error {
    LockError::Held { capsule: d.capsule.clone(), env: d.env.clone(), holder }.into()
}

/// Creates the namespace (capsule's, labelled) when missing: the Lease lives in it.
pub async fn ensure_namespace(client: &Client, d: &Desired) -> anyhow::Result<()> {
    let ns = &d.objects[0];
    let namespaces = api(client, &d.namespace, Kind::K8sNamespace);
    if namespaces.get_opt(&ns.name).await?.is_none() {
        namespaces.patch(&ns.name, &server_side(false, false), &Patch::Apply(&ns.manifest)).await?;
    }
    Ok(())
}

/// Takes the lock of one capsule environment, or says who holds it.
pub async fn acquire(client: &Client, d: &Desired) -> anyhow::Result<Lock> {
    let context = |e: kube::Error| anyhow::anyhow!("the apply lock of {}/{} (Lease {LEASE}): {e}", d.capsule, d.env);
    ensure_namespace(client, d).await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &d.namespace);
    let holder = Holder::this_process();
    let lock = |lease: Lease, holder| Lock {
        api: leases.clone(),
        holder,
        uid: lease.metadata.uid,
        resource_version: lease.metadata.resource_version,
    };
    match leases.create(&PostParams::default(), &lease_of(&holder, d, None)?).await {
        Ok(created) => Ok(lock(created, holder)),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let Some(live) = leases.get_opt(LEASE).await.map_err(context)? else {
                return Err(held(d, Holder::unknown("(released while checking)")));
            };
            let theirs = holder_of(&live);
            let Some(why) = holder.supersedes(&theirs) else { return Err(held(d, theirs)) };
            let next = lease_of(&holder, d, live.metadata.resource_version.clone())?;
            match leases.replace(LEASE, &PostParams::default(), &next).await {
                Ok(swapped) => {
                    eprintln!("Took over the apply lock of {}/{} from {} ({why}).", d.capsule, d.env, theirs.owner);
                    Ok(lock(swapped, holder))
                }
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                    let now = leases.get_opt(LEASE).await.map_err(context)?;
                    Err(held(d, now.map_or_else(|| Holder::unknown("(released while checking)"), |l| holder_of(&l))))
                }
                Err(e) => Err(context(e)),
            }
        }
        Err(e) => Err(context(e)),
    }
}

impl Lock {
    /// Releases the lock if this process still holds it (it may have been broken and taken
    /// by another): a delete with the uid and resourceVersion it wrote as preconditions.
    pub async fn release(self) -> anyhow::Result<()> {
        let p = DeleteParams::default()
            .preconditions(Preconditions { uid: self.uid, resource_version: self.resource_version });
        match self.api.delete(LEASE, &p).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(()),
            Err(e) => Err(anyhow::anyhow!("releasing the apply lock (Lease {LEASE}): {e}")),
        }
    }
}

/// `capsule unlock` of a Kubernetes capsule environment: deletes the Lease whoever holds it
/// and says whose it was.
pub async fn run_unlock(client: &Client, d: &Desired) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &d.namespace);
    let Some(live) = leases.get_opt(LEASE).await? else {
        println!("{}/{} was not locked.", d.capsule, d.env);
        return Ok(());
    };
    let h = holder_of(&live);
    match leases.delete(LEASE, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    println!(
        "Broke the apply lock of {}/{}, held by {} since {}{}.",
        d.capsule,
        d.env,
        h.owner,
        h.acquired_at,
        h.run_url.map(|u| format!(" ({u})")).unwrap_or_default()
    );
    Ok(())
}

/// Runs `work` under the environment's apply lock, released whatever `work` returns.
pub async fn with_lock<T>(
    client: &Client,
    d: &Desired,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let held = acquire(client, d).await?;
    let result = work.await;
    if let Err(e) = held.release().await {
        eprintln!("warning: {e}; `capsule unlock {} {}` breaks it", d.capsule, d.env);
    }
    result
}
