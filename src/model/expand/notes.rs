//! What a plan tells a reviewer from the configuration alone: services one zone loss takes
//! down, public services on plain HTTP, and what the network costs every month (NAT
//! gateways, their public IPv4 addresses and interface endpoints bill by the hour).

use crate::config::types::CapsuleFile;
use crate::model::{Kind, Resource};

/// Hours in AWS's billing month.
const HOURS_PER_MONTH: f64 = 730.0;

/// Hourly prices in USD (aws.amazon.com/vpc/pricing, /privatelink/pricing): a NAT gateway,
/// a public IPv4 address, an interface endpoint in one zone. Regions not listed use
/// us-east-1's and say so.
const PRICES: &[(&str, f64, f64, f64)] = &[
    ("us-east-1", 0.045, 0.005, 0.01),
    ("us-east-2", 0.045, 0.005, 0.01),
    ("us-west-2", 0.045, 0.005, 0.01),
    ("eu-west-1", 0.048, 0.005, 0.011),
];

pub(super) fn of(c: &CapsuleFile, env: &str, region: &str, resources: &[Resource]) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, s) in c.services.iter().filter(|(_, s)| s.public) {
        let fewest = s.autoscale.as_ref().map(|a| a.min).or(s.count);
        if let Some(n) = fewest.filter(|n| *n < 2) {
            let key = if s.autoscale.is_some() { "[autoscale] min" } else { "count" };
            notes.push(format!(
                "warning: public service `{name}` runs {n} task{} ({key} = {n}): losing its availability zone is an outage; use 2 or more",
                if n == 1 { "" } else { "s" }
            ));
        }
        if s.domain.is_none() {
            notes.push(format!(
                "warning: public service `{name}` has no domain, so it is served over plain HTTP only; give it a `domain` in `[dns].zone` for HTTPS"
            ));
        }
    }
    if let Some(cost) = network_cost(env, region, resources) {
        notes.push(cost);
    }
    notes
}

/// The monthly estimate of what bills by the hour in the network, if anything does.
fn network_cost(env: &str, region: &str, resources: &[Resource]) -> Option<String> {
    let count = |kind: Kind| resources.iter().filter(|r| r.address.kind == kind).count();
    let nats = count(Kind::NatGateway);
    let endpoint_zones: usize = resources
        .iter()
        .filter(|r| {
            r.address.kind == Kind::VpcEndpoint
                && r.attributes.get("type").and_then(|t| t.as_str()) == Some("Interface")
        })
        .map(|r| r.attributes.get("subnets").and_then(|s| s.as_array()).map_or(0, Vec::len))
        .sum();
    if nats == 0 && endpoint_zones == 0 {
        return None;
    }
    let (known, &(_, nat, ip, endpoint)) = match PRICES.iter().find(|p| p.0 == region) {
        Some(p) => (true, p),
        None => (false, &PRICES[0]),
    };
    let mut parts = Vec::new();
    if nats > 0 {
        let each = (nat + ip) * HOURS_PER_MONTH;
        parts.push(format!(
            "{nats} NAT gateway{} with public IPv4 ${:.0}",
            if nats == 1 { "" } else { "s" },
            each * nats as f64
        ));
    }
    if endpoint_zones > 0 {
        parts.push(format!(
            "interface endpoints in {endpoint_zones} zone-slots ${:.0}",
            endpoint * HOURS_PER_MONTH * endpoint_zones as f64
        ));
    }
    let total = ((nat + ip) * nats as f64 + endpoint * endpoint_zones as f64) * HOURS_PER_MONTH;
    Some(format!(
        "cost: the network of `{env}` adds about ${total:.0} a month before data processing ({}; estimate at {} hourly prices{})",
        parts.join(", "),
        if known { region } else { "us-east-1" },
        if known { "" } else { ", your region's may differ" }
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::load_str;
    use crate::model::{Desired, ExpandContext, Kind, expand};

    fn desired(text: &str) -> Vec<Desired> {
        let capsule = load_str(Path::new("capsule.toml"), text).unwrap_or_else(|e| panic!("{e:?}"));
        let ctx = ExpandContext { account: "123456789012".into(), default_region: "us-east-1".into() };
        capsule.environments.iter().map(|env| expand(&capsule, env, &ctx)).collect()
    }

    #[test]
    fn a_public_service_in_one_zone_or_on_plain_http_is_a_warning() {
        let text = "[capsule]\nname = \"ww\"\n[dns]\nzone = \"example.com\"\n\
                    [services.one]\nimage = \"x\"\nport = 80\npublic = true\ncount = 1\ndomain = \"one.example.com\"\n\
                    [services.auto]\nimage = \"x\"\nport = 80\npublic = true\ndomain = \"auto.example.com\"\n[services.auto.autoscale]\nmin = 1\nmax = 3\n\
                    [services.plain]\nimage = \"x\"\nport = 80\npublic = true\n\
                    [services.worker]\nimage = \"x\"\ncount = 1\n";
        let d = &desired(text)[0];
        let warnings: Vec<&String> = d.notes.iter().filter(|n| n.starts_with("warning:")).collect();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].contains("`one` runs 1 task (count = 1)"), "{}", warnings[0]);
        assert!(warnings[1].contains("`auto` runs 1 task ([autoscale] min = 1)"), "{}", warnings[1]);
        assert!(warnings[2].contains("`plain` has no domain") && warnings[2].contains("plain HTTP"), "{}", warnings[2]);
        // Without `count`, two tasks.
        let plain = d.resources.iter().find(|r| r.address.kind == Kind::EcsService && r.address.name == "plain");
        assert_eq!(plain.map(|r| r.attributes["desired_count"].clone()), Some(serde_json::json!(2)));
    }

    #[test]
    fn the_network_cost_follows_the_nat_of_each_environment() {
        let text = "[capsule]\nname = \"cc\"\n[environments.staging]\n[environments.production]\n[services.worker]\nimage = \"x\"\n";
        let notes: Vec<String> = desired(text).iter().map(|d| d.notes.join("\n")).collect();
        assert!(notes[0].contains("adds about $36 a month") && notes[0].contains("1 NAT gateway with"), "{}", notes[0]);
        assert!(notes[1].contains("adds about $73 a month") && notes[1].contains("2 NAT gateways"), "{}", notes[1]);
        assert!(notes[1].contains("estimate at us-east-1 hourly prices"), "{}", notes[1]);
        let elsewhere =
            desired("[capsule]\nname = \"cc\"\nregion = \"ap-south-1\"\n[services.worker]\nimage = \"x\"\n");
        assert!(
            elsewhere[0].notes[0].contains("us-east-1 hourly prices, your region's may differ"),
            "{}",
            elsewhere[0].notes[0]
        );
    }

    #[test]
    fn a_capsule_with_nothing_in_a_vpc_gets_no_network() {
        let d = &desired("[capsule]\nname = \"ss\"\n[sites.web]\ndir = \".\"\n")[0];
        let network = [Kind::Vpc, Kind::Subnet, Kind::NatGateway, Kind::ElasticIp, Kind::FlowLog];
        assert!(!d.resources.iter().any(|r| network.contains(&r.address.kind)));
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }
}
