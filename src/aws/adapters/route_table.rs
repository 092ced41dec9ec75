//! Route tables of capsule's VPC, found by their ownership tags. Attributes: `vpc` (forces a
//! replacement), `routes` (capsule's routes, `{cidr, gateway}` to an internet gateway or
//! `{cidr, nat_gateway}`; the local route and endpoint routes are AWS's and not listed) and
//! `subnets` (the associated subnets, sorted). Outputs: `id`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, RouteTable};
use serde_json::{Value, json};

use super::ec2::{
    client_token, created, filter, filters_for, not_again, owned_filters, tag_spec, tags, until_released,
};
use super::lb::sorted_strings;
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, Live};
use crate::model::{Kind, Resource};

pub struct RouteTableAdapter;

fn routes_of(t: &RouteTable) -> Vec<Value> {
    let mut routes: Vec<Value> = t
        .routes()
        .iter()
        .filter_map(|r| {
            let cidr = r.destination_cidr_block()?;
            match (r.gateway_id(), r.nat_gateway_id()) {
                (Some(g), _) if g != "local" => Some(json!({ "cidr": cidr, "gateway": g })),
                (_, Some(n)) => Some(json!({ "cidr": cidr, "nat_gateway": n })),
                _ => None,
            }
        })
        .collect();
    routes.sort_by_key(|r| r.to_string());
    routes
}

/// (subnet, association id) of every subnet association.
fn associations(t: &RouteTable) -> Vec<(String, String)> {
    t.associations()
        .iter()
        .filter_map(|a| Some((a.subnet_id()?.to_string(), a.route_table_association_id()?.to_string())))
        .collect()
}

fn live_of(region: &str, t: &RouteTable) -> Live {
    let mut subnets: Vec<String> = associations(t).into_iter().map(|(s, _)| s).collect();
    subnets.sort();
    Live {
        aws_name: t.route_table_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("vpc".into(), json!(t.vpc_id())),
            ("routes".into(), Value::Array(routes_of(t))),
            ("subnets".into(), json!(subnets)),
        ]),
        outputs: BTreeMap::from([("id".into(), json!(t.route_table_id()))]),
        tags: tags(t.tags()),
    }
}

impl RouteTableAdapter {
    async fn described(
        &self,
        cx: &Cx,
        region: &str,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<RouteTable>, AwsError> {
        let mut pages = cx.aws.ec2(region).describe_route_tables().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.aws("ec2:DescribeRouteTables")?.route_tables().iter().cloned());
        }
        Ok(out)
    }

    async fn find(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self
            .described(cx, &r.region, filters_for(cx, r, "route-table-id"))
            .await?
            .first()
            .map(|t| live_of(&r.region, t)))
    }

    async fn set_routes(
        &self,
        cx: &Cx,
        region: &str,
        id: &str,
        have: &[Value],
        want: &[Value],
    ) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region);
        let cidr = |r: &Value| r.get("cidr").and_then(Value::as_str).unwrap_or_default().to_string();
        for route in want.iter().filter(|r| !have.contains(r)) {
            let target = |k: &str| route.get(k).and_then(Value::as_str).map(str::to_string);
            if have.iter().any(|h| cidr(h) == cidr(route)) {
                ec2.replace_route()
                    .route_table_id(id)
                    .destination_cidr_block(cidr(route))
                    .set_gateway_id(target("gateway"))
                    .set_nat_gateway_id(target("nat_gateway"))
                    .send()
                    .await
                    .aws("ec2:ReplaceRoute")?;
            } else {
                ec2.create_route()
                    .route_table_id(id)
                    .destination_cidr_block(cidr(route))
                    .set_gateway_id(target("gateway"))
                    .set_nat_gateway_id(target("nat_gateway"))
                    .send()
                    .await
                    .aws("ec2:CreateRoute")?;
            }
        }
        for route in have.iter().filter(|h| !want.iter().any(|w| cidr(w) == cidr(h))) {
            ec2.delete_route()
                .route_table_id(id)
                .destination_cidr_block(cidr(route))
                .send()
                .await
                .aws("ec2:DeleteRoute")?;
        }
        Ok(())
    }

    /// Associates `want`'s subnets (moving one from another table of the VPC if need be)
    /// and lets go of the others.
    async fn set_subnets(&self, cx: &Cx, region: &str, table: &RouteTable, want: &[String]) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region);
        let id = table.route_table_id().unwrap_or_default();
        let have = associations(table);
        for subnet in want.iter().filter(|s| !have.iter().any(|(h, _)| h == *s)) {
            let current = self.described(cx, region, vec![filter("association.subnet-id", subnet)]).await?;
            let moved = current.iter().flat_map(associations).find(|(s, _)| s == subnet);
            match moved {
                Some((_, association)) => {
                    ec2.replace_route_table_association()
                        .association_id(association)
                        .route_table_id(id)
                        .send()
                        .await
                        .aws("ec2:ReplaceRouteTableAssociation")?;
                }
                None => {
                    ec2.associate_route_table()
                        .route_table_id(id)
                        .subnet_id(subnet)
                        .send()
                        .await
                        .aws("ec2:AssociateRouteTable")?;
                }
            }
        }
        for (_, association) in have.iter().filter(|(s, _)| !want.contains(s)) {
            ec2.disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .aws("ec2:DisassociateRouteTable")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for RouteTableAdapter {
    fn kind(&self) -> Kind {
        Kind::RouteTable
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn normalize(&self, attrs: &mut BTreeMap<String, Value>) {
        if let Some(Value::Array(routes)) = attrs.get_mut("routes") {
            routes.sort_by_key(|r| r.to_string());
        }
        let subnets = sorted_strings(attrs.get("subnets"));
        attrs.insert("subnets".into(), json!(subnets));
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        self.find(cx, r).await
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        let live = match self.find(cx, r).await? {
            Some(live) => live,
            None => {
                not_again(cx, r, "ec2:CreateRouteTable")?;
                let out = cx
                    .aws
                    .ec2(&r.region)
                    .create_route_table()
                    .client_token(client_token(cx, r))
                    .vpc_id(attr_str(attrs, "vpc"))
                    .tag_specifications(tag_spec(cx, r, ResourceType::RouteTable))
                    .send()
                    .await
                    .aws("ec2:CreateRouteTable")?;
                created(cx, r, out.route_table().and_then(|t| t.route_table_id()).unwrap_or_default());
                self.find(cx, r).await?.visible("ec2:DescribeRouteTables")?
            }
        };
        self.update(cx, r, attrs, &live).await
    }

    async fn update(
        &self,
        cx: &Cx,
        r: &Resource,
        attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        let have = live.attributes.get("routes").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut want = attrs.get("routes").and_then(Value::as_array).cloned().unwrap_or_default();
        want.sort_by_key(|r| r.to_string());
        self.set_routes(cx, &r.region, &live.aws_name, &have, &want).await?;
        let tables = self.described(cx, &r.region, vec![filter("route-table-id", &live.aws_name)]).await?;
        if let Some(table) = tables.first() {
            self.set_subnets(cx, &r.region, table, &sorted_strings(attrs.get("subnets"))).await?;
        }
        self.find(cx, r).await?.visible("ec2:DescribeRouteTables")
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(&live.region);
        for table in self.described(cx, &live.region, vec![filter("route-table-id", &live.aws_name)]).await? {
            for (_, association) in associations(&table) {
                let done = ec2.disassociate_route_table().association_id(association).send().await;
                match done.aws("ec2:DisassociateRouteTable") {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
        }
        until_released(&[], || async {
            ec2.delete_route_table().route_table_id(&live.aws_name).send().await.aws("ec2:DeleteRouteTable").map(|_| ())
        })
        .await
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let tables = self.described(cx, &cx.region, owned_filters(cx)).await?;
        Ok(tables.iter().map(|t| live_of(&cx.region, t)).filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
