//! `[network]`: the VPC a capsule environment runs in. By default capsule's own (per zone a
//! public, private and isolated subnet; internet gateway; NAT per `nat`; S3 gateway endpoint;
//! interface endpoints without NAT; flow logs), else an existing VPC's subnets, which capsule
//! only references. Either way the result is a `Net` the other units place resources in.

use serde_json::{Value, json};

use super::builder::Builder;
use crate::config::cidr::Cidr;
use crate::config::types::{Nat, Network};
use crate::model::{Address, Kind, reference};

/// Where resources go: VPC and subnets as references to capsule's own network or as the
/// ids of an existing one, and what a resource placed in each tier waits for.
#[derive(Debug, Clone, Default)]
pub(super) struct Net {
    pub vpc: Value,
    pub public: Vec<Value>,
    pub private: Vec<Value>,
    pub isolated: Vec<Value>,
    /// The VPC itself (security groups, target groups).
    pub vpc_deps: Vec<Address>,
    /// Public subnets with their route to the internet gateway (the load balancer).
    pub public_deps: Vec<Address>,
    /// Private subnets with their way out: NAT gateways or interface endpoints (tasks).
    pub private_deps: Vec<Address>,
    /// Isolated subnets (databases, caches).
    pub isolated_deps: Vec<Address>,
}

/// An existing VPC the plan checks before anything is placed in it (`aws::network`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingNetwork {
    pub vpc_id: String,
    pub public: Vec<String>,
    pub private: Vec<String>,
    pub isolated: Vec<String>,
}

/// The interface endpoints private tasks need when there is no NAT: image pulls (ECR api
/// and dkr; the layers come from S3 through the gateway endpoint), logs, secrets, STS.
pub const INTERFACE_ENDPOINTS: &[&str] = &["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts"];

/// The default NAT of an environment: one per zone in `production`, one shared elsewhere.
fn default_nat(env: &str) -> Nat {
    if env == "production" { Nat::PerAz } else { Nat::Single }
}

/// The network, when anything of the capsule lives in a VPC (services, jobs, data stores);
/// `None` for a capsule of sites, DNS and email only.
pub(super) fn expand(b: &mut Builder<'_>, network: Option<&Network>, needed: bool) -> Option<ExistingNetwork> {
    if !needed {
        return None;
    }
    let n = network.cloned().unwrap_or_default();
    match &n.vpc_id {
        Some(vpc_id) => {
            let existing = ExistingNetwork {
                vpc_id: vpc_id.clone(),
                public: n.public_subnets.clone(),
                private: n.private_subnets.clone(),
                isolated: if n.isolated_subnets.is_empty() {
                    n.private_subnets.clone()
                } else {
                    n.isolated_subnets.clone()
                },
            };
            let ids = |v: &[String]| v.iter().map(|s| json!(s)).collect();
            b.net = Net {
                vpc: json!(vpc_id),
                public: ids(&existing.public),
                private: ids(&existing.private),
                isolated: ids(&existing.isolated),
                ..Net::default()
            };
            Some(existing)
        }
        None => {
            own(b, &n);
            None
        }
    }
}

/// The subnets of one zone in a block: private ones take the first three quarters (a
/// quarter each), public and isolated ones a 32nd each from the last quarter.
struct Layout {
    block: Cidr,
}

impl Layout {
    fn private(&self, zone: u32) -> Cidr {
        self.block.part(self.block.prefix + 2, zone)
    }
    fn public(&self, zone: u32) -> Cidr {
        self.block.part(self.block.prefix + 5, 24 + zone)
    }
    fn isolated(&self, zone: u32) -> Cidr {
        self.block.part(self.block.prefix + 5, 28 + zone)
    }
}

/// capsule's own VPC.
fn own(b: &mut Builder<'_>, n: &Network) {
    let azs = n.azs.unwrap_or(2).clamp(2, 3) as u32;
    let nat = n.nat.unwrap_or_else(|| default_nat(b.env));
    let block =
        n.cidr.as_deref().and_then(|c| Cidr::parse(c).ok()).unwrap_or_else(|| Cidr::default_for(b.capsule, b.env));
    let layout = Layout { block };
    let vpc = b.add(
        Kind::Vpc,
        "main",
        b.name("", 255),
        json!({ "cidr": block.to_string(), "dns_support": true, "dns_hostnames": true }),
        vec![],
    );
    let vpc_id = reference(&vpc, "id");
    let igw = b.add(Kind::InternetGateway, "main", b.name("", 255), json!({ "vpc": vpc_id }), vec![vpc.clone()]);
    let mut net = Net { vpc: vpc_id.clone(), vpc_deps: vec![vpc.clone()], ..Net::default() };
    let subnets = |b: &mut Builder<'_>, tier: &str, cidr: &dyn Fn(u32) -> Cidr| -> Vec<Address> {
        (0..azs)
            .map(|z| {
                let name = format!("{tier}-{}", z + 1);
                b.add(
                    Kind::Subnet,
                    &name,
                    b.name(&name, 255),
                    json!({ "vpc": vpc_id, "cidr": cidr(z).to_string(), "zone": format!("az:{}", z + 1) }),
                    vec![vpc.clone()],
                )
            })
            .collect()
    };
    let public = subnets(b, "public", &|z| layout.public(z));
    let private = subnets(b, "private", &|z| layout.private(z));
    let isolated = subnets(b, "isolated", &|z| layout.isolated(z));

    let public_table =
        route_table(b, "public", &vpc, &public, Some(json!({ "gateway": reference(&igw, "id") })), &[igw]);
    let nats = nat_gateways(b, nat, &public, &public_table);
    let mut private_tables = Vec::new();
    for (z, subnet) in private.iter().enumerate() {
        let nat = nats.get(z).or(nats.first());
        let route = nat.map(|n| json!({ "nat_gateway": reference(n, "id") }));
        let name = format!("private-{}", z + 1);
        private_tables.push(route_table(
            b,
            &name,
            &vpc,
            std::slice::from_ref(subnet),
            route,
            &nat.into_iter().cloned().collect::<Vec<_>>(),
        ));
    }
    let isolated_table = route_table(b, "isolated", &vpc, &isolated, None, &[]);
    let s3 = gateway_endpoint(b, &vpc, &private_tables);
    let mut private_deps: Vec<Address> = private.iter().chain(&private_tables).chain(&nats).cloned().collect();
    private_deps.push(s3);
    if nat == Nat::None {
        private_deps.extend(interface_endpoints(b, &vpc, &block, &private));
    }
    flow_logs(b, &vpc);

    net.public = public.iter().map(|s| reference(s, "id")).collect();
    net.private = private.iter().map(|s| reference(s, "id")).collect();
    net.isolated = isolated.iter().map(|s| reference(s, "id")).collect();
    net.public_deps = public.iter().cloned().chain([public_table]).collect();
    net.private_deps = private_deps;
    net.isolated_deps = isolated.iter().cloned().chain([isolated_table]).collect();
    b.net = net;
}

/// A route table of `subnets` with, when given, a default route (`0.0.0.0/0`) to `target`.
fn route_table(
    b: &mut Builder<'_>,
    name: &str,
    vpc: &Address,
    subnets: &[Address],
    target: Option<Value>,
    target_deps: &[Address],
) -> Address {
    let routes: Vec<Value> = target
        .map(|t| {
            let mut route = json!({ "cidr": "0.0.0.0/0" });
            if let (Some(r), Some(t)) = (route.as_object_mut(), t.as_object()) {
                r.extend(t.clone());
            }
            route
        })
        .into_iter()
        .collect();
    let mut deps = vec![vpc.clone()];
    deps.extend(subnets.iter().cloned());
    deps.extend(target_deps.iter().cloned());
    b.add(
        Kind::RouteTable,
        name,
        b.name(name, 255),
        json!({
            "vpc": reference(vpc, "id"),
            "routes": routes,
            "subnets": subnets.iter().map(|s| reference(s, "id")).collect::<Vec<_>>(),
        }),
        deps,
    )
}

/// NAT gateways with their Elastic IPs, in the first public subnets: one per zone, one, or
/// none. The public route table comes first (a NAT gateway needs the internet gateway).
fn nat_gateways(b: &mut Builder<'_>, nat: Nat, public: &[Address], public_table: &Address) -> Vec<Address> {
    let count = match nat {
        Nat::PerAz => public.len(),
        Nat::Single => 1,
        Nat::None => 0,
    };
    (0..count)
        .map(|z| {
            let name = (z + 1).to_string();
            let eip =
                b.add(Kind::ElasticIp, &format!("nat-{name}"), b.name(&format!("nat-{name}"), 255), json!({}), vec![]);
            b.add(
                Kind::NatGateway,
                &name,
                b.name(&format!("nat-{name}"), 255),
                json!({ "subnet": reference(&public[z], "id"), "allocation": reference(&eip, "id") }),
                vec![public[z].clone(), eip, public_table.clone()],
            )
        })
        .collect()
}

/// The S3 gateway endpoint (free) on the private route tables: image layers and S3 traffic
/// stay off the NAT gateways.
fn gateway_endpoint(b: &mut Builder<'_>, vpc: &Address, tables: &[Address]) -> Address {
    let service = format!("com.amazonaws.{}.s3", b.region);
    let mut deps = vec![vpc.clone()];
    deps.extend(tables.iter().cloned());
    b.add(
        Kind::VpcEndpoint,
        "s3",
        b.name("s3", 255),
        json!({
            "vpc": reference(vpc, "id"),
            "service": service,
            "type": "Gateway",
            "route_tables": tables.iter().map(|t| reference(t, "id")).collect::<Vec<_>>(),
        }),
        deps,
    )
}

/// Without NAT: an interface endpoint per service private tasks call, in every private
/// subnet, behind a security group that admits HTTPS from the VPC.
fn interface_endpoints(b: &mut Builder<'_>, vpc: &Address, block: &Cidr, private: &[Address]) -> Vec<Address> {
    let sg = b.add(
        Kind::SecurityGroup,
        "endpoints",
        b.name("endpoints", 255),
        json!({
            "description": "VPC endpoints: HTTPS from inside the VPC",
            "vpc": reference(vpc, "id"),
            "ingress": [ { "port": 443, "cidr": block.to_string() } ],
        }),
        vec![vpc.clone()],
    );
    INTERFACE_ENDPOINTS
        .iter()
        .map(|service| {
            let name = service.replace('.', "-");
            let mut deps = vec![vpc.clone(), sg.clone()];
            deps.extend(private.iter().cloned());
            b.add(
                Kind::VpcEndpoint,
                &name,
                b.name(&name, 255),
                json!({
                    "vpc": reference(vpc, "id"),
                    "service": format!("com.amazonaws.{}.{service}", b.region),
                    "type": "Interface",
                    "subnets": private.iter().map(|s| reference(s, "id")).collect::<Vec<_>>(),
                    "security_groups": [reference(&sg, "id")],
                    "private_dns": true,
                }),
                deps,
            )
        })
        .collect()
}

/// VPC flow logs (all traffic) to a capsule log group, written by a role only VPC Flow
/// Logs of this account may assume.
fn flow_logs(b: &mut Builder<'_>, vpc: &Address) {
    let log = b.add(
        Kind::LogGroup,
        "vpc-flow-logs",
        format!("/capsule/{}/{}/vpc-flow-logs", b.capsule, b.env),
        json!({ "retention_days": 30 }),
        vec![],
    );
    let statements = vec![json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [reference(&log, "arn")],
    })];
    let description = format!("capsule {} {}: VPC flow logs to their log group", b.capsule, b.env);
    let role = b.role("vpc-flow-logs", &description, "vpc-flow-logs.amazonaws.com", statements, vec![log.clone()]);
    b.add(
        Kind::FlowLog,
        "vpc",
        b.name("vpc", 255),
        json!({
            "vpc": reference(vpc, "id"),
            "traffic_type": "ALL",
            "log_group": reference(&log, "name"),
            "role": reference(&role, "arn"),
        }),
        vec![vpc.clone(), log, role],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_fills_a_block_without_overlap() {
        for text in ["10.20.0.0/16", "10.0.16.0/20"] {
            let layout = Layout { block: Cidr::parse(text).unwrap_or_else(|e| panic!("{e}")) };
            let mut all: Vec<Cidr> =
                (0..3).flat_map(|z| [layout.private(z), layout.public(z), layout.isolated(z)]).collect();
            all.sort_by_key(|c| c.base);
            for pair in all.windows(2) {
                let end = pair[0].base + (1u32 << (32 - pair[0].prefix));
                assert!(end <= pair[1].base, "{} overlaps {}", pair[0], pair[1]);
            }
            let last = all.last().map(|c| c.base + (1u32 << (32 - c.prefix))).unwrap_or_default();
            assert!(last <= layout.block.base + (1u32 << (32 - layout.block.prefix)), "{text}");
        }
        let layout = Layout { block: Cidr::parse("10.0.16.0/20").unwrap_or_else(|e| panic!("{e}")) };
        assert_eq!(layout.private(0).to_string(), "10.0.16.0/22");
        assert_eq!(layout.public(0).to_string(), "10.0.28.0/25");
        assert_eq!(layout.isolated(2).to_string(), "10.0.31.0/25");
    }
}
