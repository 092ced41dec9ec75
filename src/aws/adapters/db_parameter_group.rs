//! RDS DB parameter groups: a database's own group, which makes the server refuse
//! connections without TLS. It owns only the parameters capsule sets; any other parameter
//! set on the group by hand is left as it is.
//!
//! Attributes: `family` (`postgres16`, `mysql8.0`, ...; part of the group's name, so a new
//! family is a new group, made before the old one goes: the instance moves to it first) and
//! `parameters` ({name: value} of
//! capsule's parameters, read back with DescribeDBParameters `Source=user`). Parameters
//! change in place (ModifyDBParameterGroup, `immediate`: both are dynamic, no reboot).
//! Outputs: `name`, `arn`. Ownership tags are RDS tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, Parameter, Tag};
use serde_json::{Map, Value, json};

use super::tag_map;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct DbParameterGroupAdapter;

/// The parameters capsule sets (and so reads back); others on the group are not its own.
const MANAGED: &[&str] = &["rds.force_ssl", "require_secure_transport"];

/// ModifyDBParameterGroup takes at most 20 parameters a call (API_ModifyDBParameterGroup).
const PER_CALL: usize = 20;

fn rds_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// {name: value} of a desired `parameters` object.
fn wanted(attrs: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    attrs
        .get("parameters")
        .and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

impl DbParameterGroupAdapter {
    async fn describe(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<DbParameterGroup>, AwsError> {
        let out = cx
            .aws
            .rds(region)
            .describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await
            .aws("rds:DescribeDBParameterGroups")
            .found()?;
        Ok(out.and_then(|o| o.db_parameter_groups().first().cloned()))
    }

    /// The values of capsule's parameters that are set on the group.
    async fn parameters(&self, cx: &Cx, name: &str, region: &str) -> Result<Map<String, Value>, AwsError> {
        let mut out = Map::new();
        let mut pages = cx
            .aws
            .rds(region)
            .describe_db_parameters()
            .db_parameter_group_name(name)
            .source("user")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for p in page.aws("rds:DescribeDBParameters")?.parameters() {
                if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value())
                    && MANAGED.contains(&n)
                {
                    out.insert(n.to_string(), json!(v));
                }
            }
        }
        Ok(out)
    }

    async fn tags(&self, cx: &Cx, arn: &str, region: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = cx
            .aws
            .rds(region)
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .aws("rds:ListTagsForResource")
            .found()?;
        Ok(out.map(|o| tag_map(o.tag_list(), |t| (t.key(), t.value()))).unwrap_or_default())
    }

    async fn live_of(&self, cx: &Cx, g: &DbParameterGroup, region: &str) -> Result<Live, AwsError> {
        let name = g.db_parameter_group_name().unwrap_or_default();
        let arn = g.db_parameter_group_arn().unwrap_or_default();
        Ok(Live {
            aws_name: name.to_string(),
            region: region.to_string(),
            attributes: BTreeMap::from([
                ("family".into(), json!(g.db_parameter_group_family().unwrap_or_default())),
                ("parameters".into(), Value::Object(self.parameters(cx, name, region).await?)),
            ]),
            outputs: BTreeMap::from([("name".into(), json!(name)), ("arn".into(), json!(arn))]),
            tags: self.tags(cx, arn, region).await?,
        })
    }

    async fn find(&self, cx: &Cx, name: &str, region: &str) -> Result<Option<Live>, AwsError> {
        match self.describe(cx, name, region).await? {
            Some(g) => self.live_of(cx, &g, region).await.map(Some),
            None => Ok(None),
        }
    }

    /// Sets the wanted parameters that differ from `have`, 20 a call.
    async fn set(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>, have: &Live) -> Result<(), AwsError> {
        let have = have.attributes.get("parameters").and_then(Value::as_object);
        let changed: Vec<Parameter> = wanted(attrs)
            .into_iter()
            .filter(|(k, v)| have.and_then(|h| h.get(k)).and_then(Value::as_str) != Some(v.as_str()))
            .map(|(k, v)| {
                Parameter::builder().parameter_name(k).parameter_value(v).apply_method(ApplyMethod::Immediate).build()
            })
            .collect();
        for chunk in changed.chunks(PER_CALL) {
            cx.aws
                .rds(&r.region)
                .modify_db_parameter_group()
                .db_parameter_group_name(&r.aws_name)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .aws("rds:ModifyDBParameterGroup")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for DbParameterGroupAdapter {
    fn kind(&self) -> Kind {
        Kind::DbParameterGroup
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["family"]
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    /// The listed one of `r`'s name.
    async fn observe_listed(&self, _: &Cx, r: &Resource, listed: &[Live]) -> Result<Option<Live>, AwsError> {
        Ok(listed.iter().find(|l| l.aws_name == r.aws_name).cloned())
    }

    /// By name; else this component's group of another family, which a new family replaces.
    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        if let Some(live) = self.find(cx, &r.aws_name, &r.region).await? {
            return Ok(Some(live));
        }
        Ok(self.list_owned(cx).await?.into_iter().find(|l| l.component() == Some(r.address.name.as_str())))
    }

    /// The instance uses the group, and RDS refuses to delete a group in use: the new group
    /// (another name, since the family is in it) is made first, the instance moves to it,
    /// then the old one goes.
    fn create_before_delete(&self) -> bool {
        true
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.find(cx, &r.aws_name, &r.region).await? {
            let live = live.ensure_owned(cx, "rds:CreateDBParameterGroup")?;
            return self.update(cx, r, attrs, &live).await;
        }
        let created = cx
            .aws
            .rds(&r.region)
            .create_db_parameter_group()
            .db_parameter_group_name(&r.aws_name)
            .db_parameter_group_family(attr_str(attrs, "family"))
            // RDS cannot change a description: it names the group's owner, nothing to diff.
            .description(format!("capsule {} {} database {}: TLS required", cx.capsule, cx.env, r.address.name))
            .set_tags(Some(rds_tags(cx.tags_of(r))))
            .send()
            .await
            .aws("rds:CreateDBParameterGroup");
        match created {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                return self.adopt(cx, r, attrs, e, "rds:CreateDBParameterGroup").await;
            }
            Err(e) => return Err(e),
        }
        let fresh = Live {
            aws_name: r.aws_name.clone(),
            region: r.region.clone(),
            attributes: BTreeMap::new(),
            outputs: BTreeMap::new(),
            tags: BTreeMap::new(),
        };
        self.set(cx, r, attrs, &fresh).await?;
        self.find(cx, &r.aws_name, &r.region).await?.visible("rds:DescribeDBParameterGroups")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        self.set(cx, r, attrs, live).await?;
        if let Some(arn) = live.outputs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            cx.aws
                .rds(&r.region)
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(rds_tags(cx.tags_of(r))))
                .send()
                .await
                .aws("rds:AddTagsToResource")?;
        }
        self.find(cx, &r.aws_name, &r.region).await?.visible("rds:DescribeDBParameterGroups")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let deleted = cx
            .aws
            .rds(&live.region)
            .delete_db_parameter_group()
            .db_parameter_group_name(&live.aws_name)
            .send()
            .await
            .aws("rds:DeleteDBParameterGroup")
            .found();
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_deref() == Some("InvalidDBParameterGroupState") => Err(AwsError::new(
                ErrorKind::Conflict,
                "rds:DeleteDBParameterGroup",
                format!(
                    "parameter group {} is still used by a database (a change of major version waiting for the maintenance window keeps it; it goes once the database moved): {}",
                    live.aws_name, e.message
                ),
            )),
            Err(e) => Err(e),
        }
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let client = cx.aws.rds(&cx.region);
        let mut groups = Vec::new();
        let mut pages = client.describe_db_parameter_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            groups.extend(page.aws("rds:DescribeDBParameterGroups")?.db_parameter_groups().iter().cloned());
        }
        let prefix = format!("{}-{}-", cx.capsule, cx.env);
        let mut out = Vec::new();
        for g in &groups {
            // Names start with `<capsule>-<env>-`: skip other groups (the defaults, ...) unread.
            if !g.db_parameter_group_name().unwrap_or_default().starts_with(&prefix) {
                continue;
            }
            let live = self.live_of(cx, g, &cx.region).await?;
            if live.is_owned_by(&cx.capsule, &cx.env) {
                out.push(live);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_wanted_string_parameters_are_sent() {
        let attrs =
            BTreeMap::from([("parameters".to_string(), json!({"require_secure_transport": "1", "not_a_string": 3}))]);
        assert_eq!(wanted(&attrs), BTreeMap::from([("require_secure_transport".to_string(), "1".to_string())]));
    }
}
