//! CloudFront origin access controls (OAC, not the legacy OAI). OACs cannot carry tags, so
//! ownership is written into their description: `managed-by capsule: <capsule>/<env>/<component>`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use serde_json::{Value, json};

use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_str;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource, TAG_COMPONENT, TAG_ENV, TAG_MANAGED_BY, TAG_NAME};

pub struct CloudfrontOacAdapter;

const OWNER_PREFIX: &str = "managed-by capsule: ";

fn owner_description(cx: &Cx, component: &str) -> String {
    format!("{OWNER_PREFIX}{}/{}/{component}", cx.capsule, cx.env)
}

/// The ownership tags a description encodes.
fn tags_of_description(description: &str) -> BTreeMap<String, String> {
    let Some(rest) = description.strip_prefix(OWNER_PREFIX) else { return BTreeMap::new() };
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let [capsule, env, component] = parts[..] else { return BTreeMap::new() };
    BTreeMap::from([
        (TAG_NAME.to_string(), capsule.to_string()),
        (TAG_ENV.to_string(), env.to_string()),
        (TAG_COMPONENT.to_string(), component.to_string()),
        (TAG_MANAGED_BY.to_string(), "capsule".to_string()),
    ])
}

fn config(r: &Resource, cx: &Cx, attrs: &BTreeMap<String, Value>) -> Result<OriginAccessControlConfig, AwsError> {
    OriginAccessControlConfig::builder()
        .name(&r.aws_name)
        .description(owner_description(cx, &r.address.name))
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(attr_str(attrs, "origin_type")))
        .signing_behavior(OriginAccessControlSigningBehaviors::from(attr_str(attrs, "signing_behavior")))
        .signing_protocol(OriginAccessControlSigningProtocols::from(attr_str(attrs, "signing_protocol")))
        .build()
        .map_err(|e| AwsError::new(ErrorKind::Invalid, "cloudfront:CreateOriginAccessControl", e.to_string()))
}

impl CloudfrontOacAdapter {
    async fn all(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = cf
                .list_origin_access_controls()
                .set_marker(marker.take())
                .send()
                .await
                .aws("cloudfront:ListOriginAccessControls")?;
            let Some(list) = page.origin_access_control_list() else { break };
            for s in list.items() {
                out.push(Live {
                    aws_name: s.name().to_string(),
                    region: "us-east-1".into(),
                    attributes: BTreeMap::from([
                        ("origin_type".into(), json!(s.origin_access_control_origin_type().as_str())),
                        ("signing_behavior".into(), json!(s.signing_behavior().as_str())),
                        ("signing_protocol".into(), json!(s.signing_protocol().as_str())),
                    ]),
                    outputs: BTreeMap::from([("id".into(), json!(s.id()))]),
                    tags: tags_of_description(s.description()),
                });
            }
            match list.next_marker() {
                Some(m) if list.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    fn id(live: &Live) -> String {
        live.outputs.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

#[async_trait]
impl Adapter for CloudfrontOacAdapter {
    fn kind(&self) -> Kind {
        Kind::CloudfrontOac
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self.all(cx).await?.into_iter().find(|l| l.aws_name == r.aws_name))
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.observe(cx, r).await? {
            let live = live.ensure_owned(cx, "cloudfront:CreateOriginAccessControl")?;
            return self.update(cx, r, attrs, &live).await;
        }
        cx.aws
            .cloudfront("us-east-1")
            .create_origin_access_control()
            .origin_access_control_config(config(r, cx, attrs)?)
            .send()
            .await
            .aws("cloudfront:CreateOriginAccessControl")?;
        self.observe(cx, r).await?.visible("cloudfront:ListOriginAccessControls")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let id = Self::id(live);
        let current = cf.get_origin_access_control().id(&id).send().await.aws("cloudfront:GetOriginAccessControl")?;
        cf.update_origin_access_control()
            .id(&id)
            .set_if_match(current.e_tag().map(str::to_string))
            .origin_access_control_config(config(r, cx, attrs)?)
            .send()
            .await
            .aws("cloudfront:UpdateOriginAccessControl")?;
        self.observe(cx, r).await?.visible("cloudfront:ListOriginAccessControls")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let cf = cx.aws.cloudfront("us-east-1");
        let id = Self::id(live);
        let Some(current) =
            cf.get_origin_access_control().id(&id).send().await.aws("cloudfront:GetOriginAccessControl").found()?
        else {
            return Ok(());
        };
        cf.delete_origin_access_control()
            .id(&id)
            .set_if_match(current.e_tag().map(str::to_string))
            .send()
            .await
            .aws("cloudfront:DeleteOriginAccessControl")
            .found()
            .map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        Ok(self.all(cx).await?.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
