//! IAM roles: who may assume the role, and one inline policy named `capsule` with exactly
//! what the role needs. Roles live under the path `/capsule/<capsule>/<env>/`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use super::tag_map;
use crate::aws::adapter::Visible;
use crate::aws::adapter::attr_str;
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

const POLICY_NAME: &str = "capsule";

pub struct IamRoleAdapter;

/// The trust policy: `service` may assume the role, on behalf of `account` only (the
/// `aws:SourceAccount` condition AWS recommends against the cross-service confused deputy,
/// docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). No account: no condition.
fn assume_policy(service: &str, account: &str) -> String {
    let mut statement = json!({ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" });
    if !account.is_empty() {
        statement["Condition"] = json!({ "StringEquals": { "aws:SourceAccount": account } });
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string()
}

/// The `aws:SourceAccount` the trust policy is conditioned on ("" when none).
fn source_account(doc: &Value) -> Value {
    let account = doc
        .get("Statement")
        .and_then(|s| s.get(0))
        .and_then(|s| s.pointer("/Condition/StringEquals/aws:SourceAccount"))
        .cloned()
        .unwrap_or(json!(""));
    match account {
        Value::Array(mut one) if one.len() == 1 => one.swap_remove(0),
        other => other,
    }
}

/// IAM hands documents back URL-encoded.
fn decode_document(raw: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or(Value::Null)
}

/// Single strings and one-element lists mean the same to IAM: compare lists.
pub fn normalize_policy(v: &Value) -> Value {
    let Some(doc) = v.as_object() else {
        return v.clone();
    };
    let mut doc = doc.clone();
    if let Some(Value::Array(statements)) = doc.get_mut("Statement") {
        for st in statements.iter_mut() {
            if let Some(st) = st.as_object_mut() {
                for key in ["Action", "Resource"] {
                    if let Some(Value::String(s)) = st.get(key) {
                        let one = Value::Array(vec![Value::String(s.clone())]);
                        st.insert(key.into(), one);
                    }
                }
            }
        }
    }
    Value::Object(doc)
}

fn principal_service(doc: &Value) -> Value {
    doc.get("Statement")
        .and_then(|s| s.get(0))
        .and_then(|s| s.get("Principal"))
        .and_then(|p| p.get("Service"))
        .map(|s| match s {
            Value::Array(a) if a.len() == 1 => a[0].clone(),
            other => other.clone(),
        })
        .unwrap_or(Value::Null)
}

impl IamRoleAdapter {
    async fn read(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        let iam = cx.aws.iam(region);
        let Some(out) = iam.get_role().role_name(name).send().await.aws("iam:GetRole").found()? else {
            return Ok(None);
        };
        let Some(role) = out.role() else {
            return Ok(None);
        };
        let mut tags = tag_map(role.tags(), |t| (Some(t.key()), Some(t.value())));
        if tags.is_empty() {
            // GetRole does not always carry tags.
            let mut pages = iam.list_role_tags().role_name(name).into_paginator().send();
            while let Some(page) = pages.next().await {
                tags.extend(tag_map(page.aws("iam:ListRoleTags")?.tags(), |t| (Some(t.key()), Some(t.value()))));
            }
        }
        let assume = role.assume_role_policy_document().map(decode_document).unwrap_or(Value::Null);
        let policy = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .aws("iam:GetRolePolicy")
            .found()?
            .map(|p| normalize_policy(&decode_document(p.policy_document())))
            .unwrap_or(Value::Null);
        let mut managed: Vec<String> = Vec::new();
        let mut pages = iam.list_attached_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws("iam:ListAttachedRolePolicies")?;
            managed.extend(page.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)));
        }
        managed.sort();
        Ok(Some(Live {
            aws_name: name.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("path".into(), json!(role.path())),
                ("description".into(), json!(role.description().unwrap_or_default())),
                ("assumed_by".into(), principal_service(&assume)),
                ("source_account".into(), source_account(&assume)),
                ("managed_policies".into(), json!(managed)),
                ("policy".into(), policy),
            ]),
            outputs: BTreeMap::from([("arn".into(), json!(role.arn())), ("name".into(), json!(role.role_name()))]),
            tags,
        }))
    }

    async fn converge(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let iam = cx.aws.iam(&r.region);
        let name = &r.aws_name;
        if live.attributes.get("description") != attrs.get("description") {
            iam.update_role()
                .role_name(name)
                .description(attr_str(attrs, "description"))
                .send()
                .await
                .aws("iam:UpdateRole")?;
        }
        if live.attributes.get("assumed_by") != attrs.get("assumed_by")
            || live.attributes.get("source_account") != attrs.get("source_account")
        {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(assume_policy(attr_str(attrs, "assumed_by"), attr_str(attrs, "source_account")))
                .send()
                .await
                .aws("iam:UpdateAssumeRolePolicy")?;
        }
        let want_policy = attrs.get("policy").map(normalize_policy).unwrap_or(Value::Null);
        if live.attributes.get("policy").cloned().unwrap_or(Value::Null) != want_policy {
            if want_policy.is_null() {
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(POLICY_NAME)
                    .send()
                    .await
                    .aws("iam:DeleteRolePolicy")
                    .found()?;
            } else {
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(POLICY_NAME)
                    .policy_document(want_policy.to_string())
                    .send()
                    .await
                    .aws("iam:PutRolePolicy")?;
            }
        }
        let want_managed: Vec<String> = attrs
            .get("managed_policies")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let have_managed: Vec<String> = live
            .attributes
            .get("managed_policies")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        for arn in want_managed.iter().filter(|a| !have_managed.contains(a)) {
            iam.attach_role_policy().role_name(name).policy_arn(arn).send().await.aws("iam:AttachRolePolicy")?;
        }
        for arn in have_managed.iter().filter(|a| !want_managed.contains(a)) {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .aws("iam:DetachRolePolicy")
                .found()?;
        }
        self.read(cx, name, &r.region).await?.visible("iam:GetRole")
    }
}

#[async_trait]
impl Adapter for IamRoleAdapter {
    fn kind(&self) -> Kind {
        Kind::IamRole
    }

    /// A role's path cannot change.
    fn forces_replacement(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(policy) = attrs.get("policy").map(normalize_policy) {
            attrs.insert("policy".into(), policy);
        }
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.read(cx, &r.aws_name, &r.region).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let iam = cx.aws.iam(&r.region);
        let created = iam
            .create_role()
            .role_name(&r.aws_name)
            .path(attr_str(attrs, "path"))
            .description(attr_str(attrs, "description"))
            .assume_role_policy_document(assume_policy(
                attr_str(attrs, "assumed_by"),
                attr_str(attrs, "source_account"),
            ))
            .set_tags(Some(
                cx.tags_of(r)
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AwsError::new(ErrorKind::Invalid, "iam:CreateRole", e.to_string()))?,
            ))
            .send()
            .await
            .aws("iam:CreateRole");
        if let Err(e) = created
            && e.kind != ErrorKind::Conflict
        {
            return Err(e);
        }
        let live = self.read(cx, &r.aws_name, &r.region).await?.visible("iam:GetRole")?;
        let live = live.ensure_owned(cx, "iam:CreateRole")?;
        self.converge(cx, r, attrs, &live).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.converge(cx, r, attrs, live).await
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let iam = cx.aws.iam(&live.region);
        let name = &live.aws_name;
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .aws("iam:DeleteRolePolicy")
            .found()?;
        let mut attached = Vec::new();
        let mut pages = iam.list_attached_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = page.aws("iam:ListAttachedRolePolicies").found()? else { break };
            attached.extend(page.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)));
        }
        for arn in &attached {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .aws("iam:DetachRolePolicy")
                .found()?;
        }
        iam.delete_role().role_name(name).send().await.aws("iam:DeleteRole").found().map(|_| ())
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let iam = cx.aws.iam(&cx.region);
        let prefix = format!("/capsule/{}/{}/", cx.capsule, cx.env);
        let mut pages = iam.list_roles().path_prefix(&prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for role in page.aws("iam:ListRoles")?.roles() {
                if role.path() != prefix {
                    continue;
                }
                let live = match cx.observed(Kind::IamRole, &cx.region, role.role_name()) {
                    Some(live) => Some(live),
                    None => self.read(cx, role.role_name(), &cx.region).await?,
                };
                if let Some(live) = live
                    && live.is_owned_by(&cx.capsule, &cx.env)
                {
                    out.push(live);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_decode_and_normalise() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let doc = normalize_policy(&decode_document(raw));
        assert_eq!(
            doc,
            json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"] }] })
        );
        let trust: Value = serde_json::from_str(&assume_policy("ecs-tasks.amazonaws.com", "123456789012")).unwrap();
        assert_eq!(principal_service(&trust), json!("ecs-tasks.amazonaws.com"));
        assert_eq!(source_account(&trust), json!("123456789012"));
        assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        let open: Value = serde_json::from_str(&assume_policy("events.amazonaws.com", "")).unwrap();
        assert_eq!((source_account(&open), open["Statement"][0].get("Condition")), (json!(""), None));
    }
}
