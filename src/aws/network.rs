//! The checks of an existing VPC (`[network] vpc_id`) before anything is placed in it:
//! every subnet in that VPC, each tier in at least two zones, public subnets routed to an
//! internet gateway, private ones with a way out (NAT, or the endpoints tasks need) and no
//! internet gateway. Reads only: capsule never changes a VPC it did not create.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, RouteTable, Subnet};

use super::{AwsError, AwsResultExt, Cx};
use crate::model::{ExistingNetwork, INTERFACE_ENDPOINTS};
use crate::plan::PlanError;

/// What is wrong with the existing network, as plan errors (none when it will do).
pub async fn check(cx: &Cx, address: &str, n: &ExistingNetwork) -> Vec<PlanError> {
    match read(cx, n).await {
        Ok(found) => found
            .problems(n)
            .into_iter()
            .map(|(message, hint)| PlanError { address: address.to_string(), message, hint: Some(hint) })
            .collect(),
        Err(e) => {
            vec![PlanError { address: address.to_string(), message: format!("cannot read [network]: {e}"), hint: None }]
        }
    }
}

/// The VPC as AWS tells it.
struct Found {
    subnets: BTreeMap<String, Subnet>,
    tables: Vec<RouteTable>,
    /// Service names of the VPC's available endpoints.
    endpoints: BTreeSet<String>,
    region: String,
}

async fn read(cx: &Cx, n: &ExistingNetwork) -> Result<Found, AwsError> {
    let ec2 = cx.aws.ec2(&cx.region);
    let ids: BTreeSet<&String> = n.public.iter().chain(&n.private).chain(&n.isolated).collect();
    let vpc = || Filter::builder().name("vpc-id").values(&n.vpc_id).build();
    let mut subnets = BTreeMap::new();
    let mut pages = ec2.describe_subnets().filters(vpc()).into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.aws("ec2:DescribeSubnets")?.subnets() {
            if ids.contains(&s.subnet_id().unwrap_or_default().to_string()) {
                subnets.insert(s.subnet_id().unwrap_or_default().to_string(), s.clone());
            }
        }
    }
    let mut tables = Vec::new();
    let mut pages = ec2.describe_route_tables().filters(vpc()).into_paginator().send();
    while let Some(page) = pages.next().await {
        tables.extend(page.aws("ec2:DescribeRouteTables")?.route_tables().iter().cloned());
    }
    let mut endpoints = BTreeSet::new();
    let mut pages = ec2.describe_vpc_endpoints().filters(vpc()).into_paginator().send();
    while let Some(page) = pages.next().await {
        for e in page.aws("ec2:DescribeVpcEndpoints")?.vpc_endpoints() {
            if e.state().map(|s| s.as_str().to_ascii_lowercase()) == Some("available".into()) {
                endpoints.extend(e.service_name().map(str::to_string));
            }
        }
    }
    Ok(Found { subnets, tables, endpoints, region: cx.region.clone() })
}

/// Where a subnet's default route goes.
#[derive(Debug, PartialEq)]
enum WayOut {
    InternetGateway,
    /// A NAT gateway, a transit gateway or a NAT instance.
    Nat,
    None,
}

impl Found {
    /// The route table of a subnet: its own association, else the VPC's main table.
    fn table_of(&self, subnet: &str) -> Option<&RouteTable> {
        let explicit = self.tables.iter().find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet)));
        explicit.or_else(|| self.tables.iter().find(|t| t.associations().iter().any(|a| a.main() == Some(true))))
    }

    fn way_out(&self, subnet: &str) -> WayOut {
        let Some(route) = self
            .table_of(subnet)
            .and_then(|t| t.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")))
        else {
            return WayOut::None;
        };
        if route.gateway_id().is_some_and(|g| g.starts_with("igw-")) {
            WayOut::InternetGateway
        } else if route.nat_gateway_id().is_some()
            || route.transit_gateway_id().is_some()
            || route.network_interface_id().is_some()
        {
            WayOut::Nat
        } else {
            WayOut::None
        }
    }

    /// The endpoints private tasks need without NAT that the VPC lacks.
    fn missing_endpoints(&self) -> Vec<String> {
        let service = |s: &str| format!("com.amazonaws.{}.{s}", self.region);
        INTERFACE_ENDPOINTS.iter().chain(&["s3"]).map(|s| service(s)).filter(|s| !self.endpoints.contains(s)).collect()
    }

    fn problems(&self, n: &ExistingNetwork) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (tier, ids) in [("public", &n.public), ("private", &n.private), ("isolated", &n.isolated)] {
            if tier == "isolated" && n.isolated == n.private {
                continue;
            }
            let mut zones = BTreeSet::new();
            for id in ids {
                match self.subnets.get(id) {
                    None => out.push((
                        format!("[network] {tier} subnet {id} is not in {}", n.vpc_id),
                        format!(
                            "list subnets of {} only (aws ec2 describe-subnets --filters Name=vpc-id,Values={})",
                            n.vpc_id, n.vpc_id
                        ),
                    )),
                    Some(s) => {
                        zones.extend(s.availability_zone().map(str::to_string));
                    }
                }
            }
            if !ids.is_empty() && zones.len() < 2 && ids.iter().all(|id| self.subnets.contains_key(id)) {
                out.push((
                    format!(
                        "[network] the {tier} subnets are all in one availability zone ({})",
                        zones.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                    "give subnets in at least two zones, so losing a zone is not an outage".into(),
                ));
            }
        }
        for id in n.public.iter().filter(|id| self.subnets.contains_key(*id)) {
            if self.way_out(id) != WayOut::InternetGateway {
                out.push((
                    format!("[network] public subnet {id} has no route to an internet gateway"),
                    "the load balancer needs subnets whose route table sends 0.0.0.0/0 to an internet gateway".into(),
                ));
            }
        }
        let missing = self.missing_endpoints();
        for id in n.private.iter().filter(|id| self.subnets.contains_key(*id)) {
            match self.way_out(id) {
                WayOut::Nat => {}
                WayOut::InternetGateway => out.push((
                    format!("[network] private subnet {id} routes to an internet gateway"),
                    "tasks run without public IPs: give subnets whose 0.0.0.0/0 route goes to a NAT gateway, or list this one under public_subnets".into(),
                )),
                WayOut::None if !missing.is_empty() => out.push((
                    format!("[network] private subnet {id} has neither a NAT route nor the VPC endpoints tasks need"),
                    format!("add a NAT gateway route for 0.0.0.0/0, or the endpoints {}", missing.join(", ")),
                )),
                WayOut::None => {}
            }
        }
        out
    }
}
