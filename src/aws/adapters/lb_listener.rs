//! ELBv2 listeners. AWS gives listeners no name: capsule's listener is the one on its load
//! balancer tagged with its component (`capsule:component`, e.g. `http`), so a port change
//! is an in-place ModifyListener. A listener on the desired port that does not carry the
//! capsule's tags is reported as the live resource, so it is refused, never adopted.
//!
//! Attributes: `load_balancer` (ARN; a different one forces a replacement), `port`,
//! `protocol`, `default_action` (`{"redirect": {"protocol", "port", "status"}}`,
//! `{"fixed_response": {"status"}}` or `{"forward": <target group ARN>}`), and for HTTPS
//! `ssl_policy`, `certificate` (the default certificate's ARN) and `extra_certificates`
//! (sorted ARNs of further certificates, served by SNI: ACM allows 10 names per
//! certificate, so more service domains need more certificates). Outputs: `arn`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};
use serde_json::{Value, json};

use super::lb::{elb_tags, int_of, load_balancer_arn, owned_component, owned_load_balancers, tags_of_arn, with_tags};
use super::owned::owned;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct LbListenerAdapter;

/// An action in capsule's shape.
pub(super) fn action_value(a: &Action) -> Value {
    match a.r#type() {
        Some(ActionTypeEnum::Redirect) => {
            let c = a.redirect_config();
            let port =
                c.and_then(|c| c.port()).map(|p| p.parse::<i64>().map(|n| json!(n)).unwrap_or_else(|_| json!(p)));
            json!({ "redirect": {
                "protocol": c.and_then(|c| c.protocol()),
                "port": port,
                "status": c.and_then(|c| c.status_code()).map(|s| s.as_str()),
            }})
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let status = a.fixed_response_config().and_then(|c| c.status_code());
            json!({ "fixed_response": { "status": int_of(status.map(|s| json!(s)).as_ref()) } })
        }
        Some(ActionTypeEnum::Forward) => json!({ "forward": forward_target(a) }),
        other => json!({ "other": other.map(|t| t.as_str()) }),
    }
}

/// The target group a forward action sends to (a single-group ForwardConfig too).
pub(super) fn forward_target(a: &Action) -> Option<String> {
    a.target_group_arn()
        .or_else(|| a.forward_config().and_then(|f| f.target_groups().first()).and_then(|t| t.target_group_arn()))
        .map(str::to_string)
}

/// An action from capsule's shape.
fn action_of(v: Option<&Value>) -> Vec<Action> {
    let Some(v) = v else { return vec![] };
    if let Some(r) = v.get("redirect") {
        let port = int_of(r.get("port"))
            .map(|p| p.to_string())
            .or_else(|| r.get("port").and_then(Value::as_str).map(str::to_string));
        let config = RedirectActionConfig::builder()
            .set_protocol(r.get("protocol").and_then(Value::as_str).map(str::to_string))
            .set_port(port)
            .status_code(RedirectActionStatusCodeEnum::from(
                r.get("status").and_then(Value::as_str).unwrap_or("HTTP_301"),
            ))
            .build();
        return vec![Action::builder().r#type(ActionTypeEnum::Redirect).redirect_config(config).build()];
    }
    if let Some(f) = v.get("fixed_response") {
        let status = int_of(f.get("status")).unwrap_or(404);
        let config = FixedResponseActionConfig::builder().status_code(status.to_string()).build();
        return vec![Action::builder().r#type(ActionTypeEnum::FixedResponse).fixed_response_config(config).build()];
    }
    if let Some(tg) = v.get("forward").and_then(Value::as_str) {
        return vec![Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg).build()];
    }
    vec![]
}

/// Numbers in an action as numbers (ports and status codes may be written as strings).
fn normalize_action(v: &mut Value) {
    if let Some(r) = v.get_mut("redirect").and_then(Value::as_object_mut)
        && let Some(port) = int_of(r.get("port"))
    {
        r.insert("port".into(), json!(port));
    }
    if let Some(f) = v.get_mut("fixed_response").and_then(Value::as_object_mut)
        && let Some(status) = int_of(f.get("status"))
    {
        f.insert("status".into(), json!(status));
    }
}

/// A list of strings (ARNs) from an attribute; none when absent.
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn is_tls(protocol: &str) -> bool {
    matches!(protocol, "HTTPS" | "TLS")
}

impl LbListenerAdapter {
    fn live_of(&self, l: &Listener, tags: BTreeMap<String, String>, region: &str) -> Live {
        let arn = l.listener_arn().unwrap_or_default().to_string();
        let protocol = l.protocol().map(|p| p.as_str()).unwrap_or_default();
        let mut attributes = BTreeMap::from([
            ("load_balancer".into(), json!(l.load_balancer_arn())),
            ("port".into(), json!(l.port())),
            ("protocol".into(), json!(protocol)),
            ("default_action".into(), l.default_actions().first().map(action_value).unwrap_or(Value::Null)),
        ]);
        if is_tls(protocol) {
            let certificate = l
                .certificates()
                .iter()
                .find(|c| c.is_default() == Some(true))
                .or_else(|| l.certificates().first())
                .and_then(|c| c.certificate_arn());
            attributes.insert("ssl_policy".into(), json!(l.ssl_policy()));
            attributes.insert("certificate".into(), json!(certificate));
        }
        Live {
            aws_name: arn.clone(),
            region: region.to_string(),
            attributes,
            outputs: BTreeMap::from([("arn".into(), json!(arn)), ("port".into(), json!(l.port()))]),
            tags,
        }
    }

    /// The listeners of a load balancer with their tags; none when it is gone.
    async fn listeners_of(
        &self,
        cx: &Cx,
        region: &str,
        lb_arn: &str,
    ) -> Result<Vec<(Listener, BTreeMap<String, String>)>, AwsError> {
        with_tags(cx, region, listeners(cx, region, lb_arn).await?, Listener::listener_arn).await
    }

    /// Capsule's listener for `r` on the load balancer `lb` names; else a foreign listener
    /// on `port` (which the caller refuses).
    async fn find(
        &self,
        cx: &Cx,
        r: &Resource,
        lb: Option<&Value>,
        port: Option<i64>,
    ) -> Result<Option<Live>, AwsError> {
        let Some(lb_arn) = load_balancer_arn(cx, &r.region, lb).await? else {
            return Ok(None);
        };
        let listeners = self.listeners_of(cx, &r.region, &lb_arn).await?;
        let component = r.address.name.as_str();
        let mine = listeners.iter().find(|(_, t)| owned_component(cx, t, component));
        let foreign = || listeners.iter().find(|(l, t)| !owned(cx, t) && l.port().map(i64::from) == port);
        match mine.or_else(foreign) {
            Some((l, t)) => self.with_extra(cx, self.live_of(l, t.clone(), &r.region)).await.map(Some),
            None => Ok(None),
        }
    }

    /// The certificates of a TLS listener besides its default one
    /// (DescribeListenerCertificates lists them all, the default too).
    async fn with_extra(&self, cx: &Cx, mut live: Live) -> Result<Live, AwsError> {
        if !is_tls(attr_str(&live.attributes, "protocol")) {
            return Ok(live);
        }
        let elb = cx.aws.elb(&live.region);
        let default = attr_str(&live.attributes, "certificate").to_string();
        let mut extra: Vec<String> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = elb
                .describe_listener_certificates()
                .listener_arn(&live.aws_name)
                .set_marker(marker.take())
                .send()
                .await
                .aws("elbv2:DescribeListenerCertificates")?;
            extra.extend(
                page.certificates()
                    .iter()
                    .filter(|c| c.is_default() != Some(true))
                    .filter_map(|c| c.certificate_arn())
                    .filter(|a| *a != default)
                    .map(str::to_string),
            );
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        extra.sort();
        extra.dedup();
        live.attributes.insert("extra_certificates".into(), json!(extra));
        Ok(live)
    }

    /// Adds and removes extra certificates until the listener has exactly `want`.
    async fn sync_extra(
        &self,
        cx: &Cx,
        region: &str,
        arn: &str,
        have: &[String],
        want: &[String],
    ) -> Result<(), AwsError> {
        let elb = cx.aws.elb(region);
        let cert = |a: &String| Certificate::builder().certificate_arn(a).build();
        // Both calls take one certificate a call (API reference).
        for add in want.iter().filter(|a| !have.contains(a)).map(cert) {
            elb.add_listener_certificates()
                .listener_arn(arn)
                .certificates(add)
                .send()
                .await
                .aws("elbv2:AddListenerCertificates")?;
        }
        for remove in have.iter().filter(|a| !want.contains(a)).map(cert) {
            elb.remove_listener_certificates()
                .listener_arn(arn)
                .certificates(remove)
                .send()
                .await
                .aws("elbv2:RemoveListenerCertificates")?;
        }
        Ok(())
    }

    async fn read(&self, cx: &Cx, region: &str, arn: &str) -> Result<Option<Live>, AwsError> {
        let out = cx
            .aws
            .elb(region)
            .describe_listeners()
            .listener_arns(arn)
            .send()
            .await
            .aws("elbv2:DescribeListeners")
            .found()?;
        let Some(l) = out.and_then(|o| o.listeners().iter().find(|l| l.listener_arn() == Some(arn)).cloned()) else {
            return Ok(None);
        };
        let tags = tags_of_arn(cx, region, arn).await?;
        self.with_extra(cx, self.live_of(&l, tags, region)).await.map(Some)
    }
}

#[async_trait]
impl Adapter for LbListenerAdapter {
    fn kind(&self) -> Kind {
        Kind::LbListener
    }

    /// A listener belongs to one load balancer; port, protocol, certificate, policy and
    /// default action all change in place (ModifyListener).
    fn forces_replacement(&self) -> &'static [&'static str] {
        &["load_balancer"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if attrs.contains_key("extra_certificates") {
            let mut extra = strings(attrs.get("extra_certificates"));
            extra.sort();
            attrs.insert("extra_certificates".into(), json!(extra));
        }
        if let Some(port) = int_of(attrs.get("port")) {
            attrs.insert("port".into(), json!(port));
        }
        if let Some(action) = attrs.get_mut("default_action") {
            normalize_action(action);
        }
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed listener with this component's tags, with its extra certificates.
    async fn observe_listed(&self, cx: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        match listed.iter().find(|l| l.component() == Some(r.address.name.as_str())) {
            Some(l) => self.with_extra(cx, l.clone()).await.map(Some),
            None => Ok(None),
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r, r.attributes.get("load_balancer"), int_of(r.attributes.get("port"))).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, r, attrs.get("load_balancer"), int_of(attrs.get("port"))).await? {
            let live = live.ensure_owned(cx, "elbv2:CreateListener")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let protocol = attr_str(attrs, "protocol");
        let mut create = cx
            .aws
            .elb(&r.region)
            .create_listener()
            .load_balancer_arn(attr_str(attrs, "load_balancer"))
            .protocol(ProtocolEnum::from(protocol))
            .set_port(int_of(attrs.get("port")).map(|p| p as i32))
            .set_default_actions(Some(action_of(attrs.get("default_action"))))
            .set_tags(Some(elb_tags(cx, r)));
        if is_tls(protocol) {
            create = create
                .set_ssl_policy(attrs.get("ssl_policy").and_then(Value::as_str).map(str::to_string))
                .certificates(Certificate::builder().certificate_arn(attr_str(attrs, "certificate")).build());
        }
        let out = create.send().await.aws("elbv2:CreateListener")?;
        let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_string();
        self.sync_extra(cx, &r.region, &arn, &[], &strings(attrs.get("extra_certificates"))).await?;
        self.read(cx, &r.region, &arn).await?.visible("elbv2:DescribeListeners")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let changed = attrs
            .iter()
            .any(|(k, v)| k != "load_balancer" && k != "extra_certificates" && live.attributes.get(k) != Some(v));
        if changed {
            let protocol = attr_str(attrs, "protocol");
            let mut modify = cx
                .aws
                .elb(&r.region)
                .modify_listener()
                .listener_arn(&live.aws_name)
                .protocol(ProtocolEnum::from(protocol))
                .set_port(int_of(attrs.get("port")).map(|p| p as i32))
                .set_default_actions(Some(action_of(attrs.get("default_action"))));
            if is_tls(protocol) {
                modify = modify
                    .set_ssl_policy(attrs.get("ssl_policy").and_then(Value::as_str).map(str::to_string))
                    .certificates(Certificate::builder().certificate_arn(attr_str(attrs, "certificate")).build());
            }
            modify.send().await.aws("elbv2:ModifyListener")?;
        }
        let (have, want) =
            (strings(live.attributes.get("extra_certificates")), strings(attrs.get("extra_certificates")));
        if have != want {
            self.sync_extra(cx, &r.region, &live.aws_name, &have, &want).await?;
        }
        self.read(cx, &r.region, &live.aws_name).await?.visible("elbv2:DescribeListeners")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        cx.aws
            .elb(&live.region)
            .delete_listener()
            .listener_arn(&live.aws_name)
            .send()
            .await
            .aws("elbv2:DeleteListener")
            .found()
            .map(|_| ())
    }

    /// The tagged listeners of the capsule's own load balancers.
    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let mut out = Vec::new();
        for (lb, _) in owned_load_balancers(cx, &cx.region).await? {
            for (l, tags) in self.listeners_of(cx, &cx.region, lb.load_balancer_arn().unwrap_or_default()).await? {
                if owned(cx, &tags) {
                    out.push(self.live_of(&l, tags, &cx.region));
                }
            }
        }
        Ok(out)
    }
}

/// The listener an attribute names: its ARN once references are resolved; before, the
/// capsule's own listener the reference points at (by component tag, on the capsule's
/// load balancers). `None` when it does not exist (yet).
pub(super) async fn listener_arn(cx: &Cx, region: &str, v: Option<&Value>) -> Result<Option<String>, AwsError> {
    let component = match v {
        Some(Value::String(arn)) => return Ok(Some(arn.clone())),
        Some(v) => match super::lb::referenced_component(v) {
            Some(c) => c.to_string(),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    for (lb, _) in owned_load_balancers(cx, region).await? {
        let listeners = LbListenerAdapter.listeners_of(cx, region, lb.load_balancer_arn().unwrap_or_default()).await?;
        if let Some((l, _)) = listeners.iter().find(|(_, t)| owned_component(cx, t, &component)) {
            return Ok(l.listener_arn().map(str::to_string));
        }
    }
    Ok(None)
}

/// The listeners of a load balancer; none when it is gone.
pub(super) async fn listeners(cx: &Cx, region: &str, lb_arn: &str) -> Result<Vec<Listener>, AwsError> {
    let mut all = Vec::new();
    let mut pages = cx.aws.elb(region).describe_listeners().load_balancer_arn(lb_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.aws("elbv2:DescribeListeners").found()? {
            Some(page) => all.extend(page.listeners().iter().cloned()),
            None => return Ok(vec![]),
        }
    }
    Ok(all)
}
