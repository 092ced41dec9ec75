//! The network adapters against the strict test bed's timing rules (testbed/README.md):
//! a flow log handed a role made a moment ago (IAM propagation), and a NAT gateway's Elastic
//! IP, which AWS holds until the gateway is deleted.

mod common;

use std::collections::BTreeMap;

use capsule::aws::adapters::adapter;
use capsule::aws::{Aws, Cx};
use capsule::model::{Address, Kind, Resource, ownership_tags};
use common::{testbed, unique};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";

async fn cx(capsule: &str) -> Cx {
    Cx::new(Aws::from_env().await, "123456789012".into(), capsule.into(), "production".into(), REGION.into(), false)
}

fn resource(capsule: &str, kind: Kind, name: &str, attributes: Value) -> Resource {
    Resource {
        address: Address { capsule: capsule.into(), env: "production".into(), kind, name: name.into() },
        aws_name: format!("{capsule}-{name}"),
        region: REGION.into(),
        attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        depends_on: vec![],
        tags: ownership_tags(capsule, "production", name),
    }
}

fn attrs_of(r: &Resource) -> BTreeMap<String, Value> {
    let mut attrs = r.attributes.clone();
    adapter(r.address.kind).unwrap().normalize(&mut attrs);
    attrs
}

async fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
}

/// A new VPC with one subnet and an attached internet gateway: (vpc, subnet).
async fn vpc(ec2: &aws_sdk_ec2::Client, octet: u8) -> (String, String) {
    let vpc = ec2.create_vpc().cidr_block(format!("10.{octet}.0.0/16")).send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block(format!("10.{octet}.0.0/24")).send().await.unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_string();
    ec2.attach_internet_gateway().internet_gateway_id(igw).vpc_id(&vpc).send().await.unwrap();
    (vpc, subnet)
}

/// EC2 answers "Unable to assume given IAM role" for a role made a moment ago; the create
/// waits for the role to propagate instead of failing the run.
#[tokio::test(flavor = "multi_thread")]
async fn a_flow_log_waits_for_a_role_made_a_moment_ago() {
    testbed();
    let name = unique("flowlog");
    let cx = cx(&name).await;
    let ec2 = ec2().await;
    let (vpc, _) = vpc(&ec2, 61).await;
    let iam = aws_sdk_iam::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam.create_role().role_name(&name).assume_role_policy_document(trust).send().await.unwrap();
    let role = role.role().unwrap().arn().to_string();

    let log = resource(
        &name,
        Kind::FlowLog,
        "vpc",
        json!({"vpc": vpc, "traffic_type": "ALL", "log_group": format!("/capsule/{name}/flow"), "role": role}),
    );
    let a = adapter(Kind::FlowLog).unwrap();
    let live =
        a.create(&cx, &log, &attrs_of(&log)).await.expect("the flow log is created once the role has propagated");
    assert_eq!(live.attributes["role"], json!(role));
    a.delete(&cx, &live).await.unwrap();
}

/// The gateway's address cannot be released while the gateway is deleting (AuthFailure):
/// releasing it waits until the gateway is deleted.
#[tokio::test(flavor = "multi_thread")]
async fn an_elastic_ip_is_released_once_its_nat_gateway_is_deleted() {
    testbed();
    let name = unique("natip");
    let cx = cx(&name).await;
    let ec2 = ec2().await;
    let (_, subnet) = vpc(&ec2, 62).await;
    let ip = adapter(Kind::ElasticIp).unwrap();
    let address = resource(&name, Kind::ElasticIp, "a", json!({}));
    let address = ip.create(&cx, &address, &attrs_of(&address)).await.unwrap();
    let nat = adapter(Kind::NatGateway).unwrap();
    let gateway = resource(&name, Kind::NatGateway, "a", json!({"subnet": subnet, "allocation": address.aws_name}));
    let gateway = nat.create(&cx, &gateway, &attrs_of(&gateway)).await.unwrap();
    assert_eq!(gateway.outputs["state"], json!("available"), "create waits until the gateway is available");

    // Deleted behind capsule's back, as another run's destroy might: the address is held
    // while the gateway is deleting.
    ec2.delete_nat_gateway().nat_gateway_id(&gateway.aws_name).send().await.unwrap();
    ip.delete(&cx, &address).await.expect("released once the gateway is deleted");
    let left = ec2.describe_addresses().allocation_ids(&address.aws_name).send().await;
    assert!(left.is_err() || left.unwrap().addresses().is_empty(), "the address is released");
}
