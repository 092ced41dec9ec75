//! The adapter boundary's retry: every adapter is reached through `Settled`, which runs
//! each of its steps (observe, create, update, delete, list_owned) again while it fails
//! with an error `error.rs` calls temporary, within `retry::deadline()`. The steps are
//! idempotent by the adapter contract, so running one again is safe; nothing else retries.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::adapter::Seen;
use crate::aws::retry::{deadline, settle};
use crate::aws::{Adapter, AwsError, Cx, Live};
use crate::model::{Kind, Resource};

pub struct Settled(pub &'static dyn Adapter);

#[async_trait]
impl Adapter for Settled {
    fn kind(&self) -> Kind {
        self.0.kind()
    }
    fn forces_replacement(&self) -> &'static [&'static str] {
        self.0.forces_replacement()
    }
    fn exact_maps(&self) -> &'static [&'static str] {
        self.0.exact_maps()
    }
    fn assess(&self, change: &mut crate::plan::Change, seen: &Seen<'_>) -> Option<String> {
        self.0.assess(change, seen)
    }
    fn annotate(&self, change: &mut crate::plan::Change, seen: &Seen<'_>) {
        self.0.annotate(change, seen)
    }
    fn notes(&self, address: &str, live: &Live) -> Vec<String> {
        self.0.notes(address, live)
    }
    fn create_before_delete(&self) -> bool {
        self.0.create_before_delete()
    }
    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        self.0.outputs_changed_by_update()
    }
    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        self.0.normalize(attrs)
    }
    fn observes_by_listing(&self) -> bool {
        self.0.observes_by_listing()
    }
    async fn observe_listed(&self, cx: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        settle(&r.address.to_string(), deadline(), || self.0.observe_listed(cx, r, listed)).await
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        settle(&r.address.to_string(), deadline(), || self.0.observe(cx, r)).await
    }
    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        settle(&r.address.to_string(), deadline(), || self.0.create(cx, r, attrs)).await
    }
    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        settle(&r.address.to_string(), deadline(), || self.0.update(cx, r, attrs, live)).await
    }
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        settle(&format!("deleting {}", live.aws_name), deadline(), || self.0.delete(cx, live)).await
    }
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let what = format!("listing {}", self.0.kind());
        settle(&what, deadline(), || self.0.list_owned(cx)).await
    }
}
