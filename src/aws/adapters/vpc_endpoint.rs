//! VPC endpoints of capsule's VPC, found by their ownership tags: the S3 gateway endpoint on
//! the private route tables, and without NAT the interface endpoints private tasks need.
//! Attributes: `vpc`, `service`, `type` (all three force a replacement), `route_tables`
//! (Gateway), `subnets`, `security_groups`, `private_dns` (Interface). Outputs: `id`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VpcEndpoint, VpcEndpointType};
use serde_json::{Value, json};

use super::ec2::{Lookup, client_token, created, not_again, owned_filters, poll_interval, tag_spec, tags};
use super::lb::sorted_strings;
use crate::aws::adapter::{Visible, attr_bool, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, FoundExt, Live};
use crate::model::{Kind, Resource};

pub struct VpcEndpointAdapter;

fn live_of(region: &str, e: &VpcEndpoint) -> Live {
    let list = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        json!(v)
    };
    let groups: Vec<String> = e.groups().iter().filter_map(|g| g.group_id().map(str::to_string)).collect();
    Live {
        aws_name: e.vpc_endpoint_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("vpc".into(), json!(e.vpc_id())),
            ("service".into(), json!(e.service_name())),
            ("type".into(), json!(e.vpc_endpoint_type().map(|t| t.as_str()))),
            ("route_tables".into(), list(e.route_table_ids())),
            ("subnets".into(), list(e.subnet_ids())),
            ("security_groups".into(), list(&groups)),
            ("private_dns".into(), json!(e.private_dns_enabled().unwrap_or(false))),
        ]),
        outputs: BTreeMap::from([("id".into(), json!(e.vpc_endpoint_id()))]),
        tags: tags(e.tags()),
    }
}

/// (to add, to remove) for a list attribute.
fn delta(attrs: &BTreeMap<String, Value>, live: &Live, key: &str) -> (Vec<String>, Vec<String>) {
    let want = sorted_strings(attrs.get(key));
    let have = sorted_strings(live.attributes.get(key));
    (
        want.iter().filter(|w| !have.contains(w)).cloned().collect(),
        have.iter().filter(|h| !want.contains(h)).cloned().collect(),
    )
}

impl VpcEndpointAdapter {
    /// Endpoints matching `filters` (and `ids`, when given) that are not on their way out.
    async fn described(
        &self,
        cx: &Cx,
        region: &str,
        ids: Option<Vec<String>>,
        mut filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Live>, AwsError> {
        filters.push(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-endpoint-state")
                .values("pending")
                .values("available")
                .values("pendingAcceptance")
                .build(),
        );
        let mut pages = cx
            .aws
            .ec2(region)
            .describe_vpc_endpoints()
            .set_vpc_endpoint_ids(ids)
            .set_filters(Some(filters))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            // An id not known (yet, or any more) is not an error here.
            let Some(page) = page.aws("ec2:DescribeVpcEndpoints").found()? else { return Ok(out) };
            out.extend(page.vpc_endpoints().iter().map(|e| live_of(region, e)));
        }
        Ok(out)
    }
}

#[async_trait]
impl Adapter for VpcEndpointAdapter {
    fn kind(&self) -> Kind {
        Kind::VpcEndpoint
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["vpc", "service", "type"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        for key in ["route_tables", "subnets", "security_groups"] {
            if attrs.contains_key(key) {
                let list = sorted_strings(attrs.get(key));
                attrs.insert(key.into(), json!(list));
            }
        }
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        let (ids, filters) = Lookup::of(cx, r).split();
        Ok(self.described(cx, &r.region, ids, filters.unwrap_or_default()).await?.into_iter().next())
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        if let Some(live) = self.observe(cx, r).await? {
            return self.update(cx, r, attrs, &live).await;
        }
        let interface = attr_str(attrs, "type") == "Interface";
        not_again(cx, r, "ec2:CreateVpcEndpoint")?;
        let mut call = cx
            .aws
            .ec2(&r.region)
            .create_vpc_endpoint()
            .client_token(client_token(cx, r))
            .vpc_id(attr_str(attrs, "vpc"))
            .service_name(attr_str(attrs, "service"))
            .vpc_endpoint_type(VpcEndpointType::from(attr_str(attrs, "type")))
            .tag_specifications(tag_spec(cx, r, ResourceType::VpcEndpoint));
        if interface {
            call = call
                .set_subnet_ids(Some(sorted_strings(attrs.get("subnets"))))
                .set_security_group_ids(Some(sorted_strings(attrs.get("security_groups"))))
                .private_dns_enabled(attr_bool(attrs, "private_dns"));
        } else {
            call = call.set_route_table_ids(Some(sorted_strings(attrs.get("route_tables"))));
        }
        let out = call.send().await.aws("ec2:CreateVpcEndpoint")?;
        created(cx, r, out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap_or_default());
        self.observe(cx, r).await?.visible("ec2:DescribeVpcEndpoints")
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let interface = attr_str(attrs, "type") == "Interface";
        let (add_tables, remove_tables) =
            if interface { Default::default() } else { delta(attrs, live, "route_tables") };
        let (add_subnets, remove_subnets) = if interface { delta(attrs, live, "subnets") } else { Default::default() };
        let (add_groups, remove_groups) =
            if interface { delta(attrs, live, "security_groups") } else { Default::default() };
        let dns = attrs.get("private_dns").filter(|v| interface && live.attributes.get("private_dns") != Some(*v));
        let nothing = [&add_tables, &remove_tables, &add_subnets, &remove_subnets, &add_groups, &remove_groups]
            .iter()
            .all(|v| v.is_empty());
        if nothing && dns.is_none() {
            return Ok(live.clone());
        }
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        cx.aws
            .ec2(&r.region)
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&live.aws_name)
            .set_add_route_table_ids(some(add_tables))
            .set_remove_route_table_ids(some(remove_tables))
            .set_add_subnet_ids(some(add_subnets))
            .set_remove_subnet_ids(some(remove_subnets))
            .set_add_security_group_ids(some(add_groups))
            .set_remove_security_group_ids(some(remove_groups))
            .set_private_dns_enabled(dns.and_then(Value::as_bool))
            .send()
            .await
            .aws("ec2:ModifyVpcEndpoint")?;
        self.observe(cx, r).await?.visible("ec2:DescribeVpcEndpoints")
    }

    /// DeleteVpcEndpoints reports failures in its answer, not as an error; the endpoint's
    /// network interfaces go a little later, so the subnets wait for it to be gone.
    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        const OP: &str = "ec2:DeleteVpcEndpoints";
        let ec2 = cx.aws.ec2(&live.region);
        let out = ec2.delete_vpc_endpoints().vpc_endpoint_ids(&live.aws_name).send().await.aws(OP)?;
        if let Some(failed) = out.unsuccessful().first().and_then(|u| u.error())
            && failed.code() != Some("InvalidVpcEndpoint.NotFound")
        {
            let message = format!("{}: {}", failed.code().unwrap_or_default(), failed.message().unwrap_or_default());
            return Err(AwsError::new(ErrorKind::Other, OP, message));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        while tokio::time::Instant::now() < deadline {
            let left = self.described(cx, &live.region, Some(vec![live.aws_name.clone()]), vec![]).await;
            match left {
                Ok(left) if left.is_empty() => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            tokio::time::sleep(poll_interval()).await;
        }
        Err(AwsError::new(ErrorKind::Transient, OP, format!("VPC endpoint {} is still being deleted", live.aws_name)))
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let lives = self.described(cx, &cx.region, None, owned_filters(cx)).await?;
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
