//! What the ElastiCache adapters share: tags, waits, the auth token and the connection
//! secret.
//!
//! The connection secret (the `connection_secret` attribute, an ARN kept as the tag
//! `capsule:connection-secret` on the cache) holds JSON: `{engine, host, port, url}`, plus
//! `reader_host` and `auth_token` for Redis/Valkey. Redis/Valkey urls are
//! `rediss://:<token>@<primary endpoint>:<port>` (TLS, token as the password); memcached
//! urls `memcached://<configuration endpoint>:<port>`. The auth token is generated here,
//! sent only in CreateReplicationGroup / ModifyReplicationGroup, and written only to the
//! secret; it is held in a type whose Debug and Display print `(sensitive)`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::types::Tag;
use percent_encoding::utf8_percent_encode;
use serde_json::{Value, json};

pub(super) use super::secret::secret_written;
use super::secret::{restore_if_deleted, secret_document};
use super::sensitive::{Sensitive, USERINFO};
use super::tag_map;
use crate::aws::adapter::attr_str;
use crate::aws::{AwsError, AwsResultExt, Cx, ErrorKind, FoundExt};
use crate::model::Resource;
use crate::plan::{Action, Change};

pub(super) const TAG_CONNECTION_SECRET: &str = "capsule:connection-secret";

/// How long ElastiCache may take to create, change or delete a cache.
const WAIT_LIMIT: Duration = Duration::from_secs(60 * 60);

/// How often a wait polls: `CAPSULE_CACHE_POLL` (default 15s).
pub(super) fn poll() -> Duration {
    std::env::var("CAPSULE_CACHE_POLL")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(Duration::from_secs(15))
}

/// Polls `status` until it says `available` (Ok), a failed state (Err), or it is gone.
/// `status` returns `None` when the resource is not there.
pub(super) async fn wait_until<F, Fut>(
    what: &str,
    operation: &'static str,
    want: Want,
    mut status: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, AwsError>>,
{
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        let now = status().await?;
        match (want, now.as_deref()) {
            (Want::Available, Some("available")) | (Want::Gone, None) => return Ok(()),
            (Want::Available, None) => {
                return Err(AwsError::new(ErrorKind::Other, operation, format!("{what} vanished")));
            }
            (_, Some(s @ ("create-failed" | "incompatible-network" | "restore-failed"))) => {
                return Err(AwsError::new(ErrorKind::Other, operation, format!("{what} is {s}")));
            }
            _ => {}
        }
        if tokio::time::Instant::now() > deadline {
            return Err(AwsError::new(
                ErrorKind::Transient,
                operation,
                format!("{what} is still {} after an hour", now.as_deref().unwrap_or("there")),
            ));
        }
        tokio::time::sleep(poll()).await;
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Want {
    Available,
    Gone,
}

/// Ownership tags plus the connection secret's ARN.
pub(super) fn tags_for(cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Vec<Tag> {
    let mut t = cx.tags_of(r);
    let secret = attr_str(attrs, "connection_secret");
    if !secret.is_empty() {
        t.insert(TAG_CONNECTION_SECRET.into(), secret.into());
    }
    t.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags of an ElastiCache ARN (empty when it is gone).
pub(super) async fn tags(cx: &Cx, region: &str, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
    if arn.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = cx
        .aws
        .elasticache(region)
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .aws("elasticache:ListTagsForResource")
        .found()?;
    Ok(out.map(|o| tag_map(o.tag_list(), |t| (t.key(), t.value()))).unwrap_or_default())
}

pub(super) async fn add_tags(cx: &Cx, region: &str, arn: &str, tags: Vec<Tag>) -> Result<(), AwsError> {
    cx.aws
        .elasticache(region)
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .aws("elasticache:AddTagsToResource")
        .map(|_| ())
}

/// `live` reported as `desired` when `desired` is a prefix version of it (`7.1` of `7.1.0`).
pub(super) fn version_seen(live: &str, desired: Option<&str>) -> String {
    match desired {
        Some(d) if live.starts_with(&format!("{d}.")) => d.to_string(),
        _ => live.to_string(),
    }
}

/// Sets each attribute change's impact: `replacing` ones replace the cache, `downtime`
/// ones interrupt it, the rest change in place; a replacement gets a reason naming its
/// causes and what happens to the data (`data`). Caches have no refusals of their own:
/// the engine refuses replacing or deleting them without `--allow-destroy`.
pub(super) fn assess_cache(change: &mut Change, replacing: &[&str], downtime: &[&str], data: &str) {
    if change.action == Action::Delete {
        return;
    }
    for a in change.attributes.iter_mut() {
        let impact = if replacing.contains(&a.path.as_str()) {
            "replacement"
        } else if downtime.contains(&a.path.as_str()) {
            "downtime"
        } else {
            "in-place"
        };
        a.impact = Some(impact.into());
    }
    let causes: Vec<&str> =
        change.attributes.iter().filter(|a| a.forces_replacement).map(|a| a.path.as_str()).collect();
    if change.action == Action::Replace && !causes.is_empty() {
        change.reason =
            Some(format!("{} cannot change in place: a new, empty cache replaces this one{data}", causes.join(", ")));
    }
}

// ---- the auth token --------------------------------------------------------------------

/// Letters and digits only: ElastiCache accepts 16 to 128 printable characters, of the
/// special ones only `!&#$^<>-`, and a url needs none of them.
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_LEN: usize = 64;

/// A Redis/Valkey auth token. Never printed (see sensitive.rs).
pub(super) type AuthToken = Sensitive;

pub(super) fn new_token() -> AuthToken {
    Sensitive::generate(TOKEN_CHARS, TOKEN_LEN)
}

/// Where a cache answers.
pub(super) struct Endpoint<'a> {
    pub engine: &'a str,
    pub host: &'a str,
    pub reader_host: Option<&'a str>,
    pub port: i64,
}

impl Endpoint<'_> {
    fn url(&self, token: Option<&AuthToken>) -> String {
        match token {
            Some(t) => format!("rediss://:{}@{}:{}", utf8_percent_encode(t.expose(), USERINFO), self.host, self.port),
            None if self.engine == "memcached" => format!("memcached://{}:{}", self.host, self.port),
            None => format!("rediss://{}:{}", self.host, self.port),
        }
    }

    /// The secret's JSON text.
    pub(super) fn document(&self, token: Option<&AuthToken>) -> String {
        // `tls`: the cache only speaks TLS (memcached's url scheme cannot say so).
        let mut doc =
            json!({ "engine": self.engine, "host": self.host, "port": self.port, "url": self.url(token), "tls": true });
        if let Some(reader) = self.reader_host {
            doc["reader_host"] = json!(reader);
        }
        if let Some(t) = token {
            doc["auth_token"] = json!(t.expose());
        }
        doc.to_string()
    }

    /// The secret already says this (apart from the token).
    fn matches(&self, doc: &Value) -> bool {
        doc.get("engine").and_then(Value::as_str) == Some(self.engine)
            && doc.get("host").and_then(Value::as_str) == Some(self.host)
            && doc.get("reader_host").and_then(Value::as_str) == self.reader_host
            && doc.get("port").and_then(Value::as_i64) == Some(self.port)
            && doc.get("tls") == Some(&json!(true))
    }
}

/// What the connection secret holds now, and whether it still describes `endpoint`.
pub(super) struct Held {
    pub token: Option<AuthToken>,
    pub current: bool,
}

/// Reads the connection secret `arn` (restoring it if it is scheduled for deletion).
pub(super) async fn read_secret(cx: &Cx, region: &str, arn: &str, endpoint: &Endpoint<'_>) -> Result<Held, AwsError> {
    restore_if_deleted(cx, region, arn).await?;
    let doc = secret_document(&cx.aws, region, arn).await?;
    let token = doc
        .as_ref()
        .and_then(|d| d.get("auth_token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(Sensitive::new);
    Ok(Held { token, current: doc.as_ref().is_some_and(|d| endpoint.matches(d)) })
}

pub(super) async fn write_secret(
    cx: &Cx,
    region: &str,
    arn: &str,
    endpoint: &Endpoint<'_>,
    token: Option<&AuthToken>,
) -> Result<(), AwsError> {
    cx.aws
        .secrets(region)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(endpoint.document(token))
        .send()
        .await
        .aws("secretsmanager:PutSecretValue")
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_never_printed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(format!("{a} {a:?}"), "(sensitive) (sensitive)");
    }

    #[test]
    fn documents_and_urls() {
        let token = Sensitive::new("t0ken");
        let redis = Endpoint { engine: "redis", host: "primary.example", reader_host: Some("ro.example"), port: 6379 };
        let doc: Value = serde_json::from_str(&redis.document(Some(&token))).unwrap();
        assert_eq!(doc["url"], "rediss://:t0ken@primary.example:6379");
        assert_eq!(doc["auth_token"], "t0ken");
        assert_eq!(doc["reader_host"], "ro.example");
        assert!(redis.matches(&doc));
        let memcached = Endpoint { engine: "memcached", host: "cfg.example", reader_host: None, port: 11211 };
        let doc: Value = serde_json::from_str(&memcached.document(None)).unwrap();
        assert_eq!(doc["url"], "memcached://cfg.example:11211");
        assert!(doc.get("auth_token").is_none());
        assert!(!redis.matches(&doc));
    }

    #[test]
    fn versions_match_by_prefix() {
        assert_eq!(version_seen("7.1.0", Some("7.1")), "7.1");
        assert_eq!(version_seen("7.10", Some("7.1")), "7.10");
        assert_eq!(version_seen("1.6.22", Some("1.6")), "1.6");
    }
}
