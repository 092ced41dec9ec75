//! The one place resources are put together during expansion: addresses, deterministic AWS
//! names, ownership tags and dependency edges. Units (one per `capsule.toml` table) only say
//! what they want; they never build an `Address` or a tag set by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Artifact;
use super::network::Net;
use crate::model::{Address, Kind, Resource, aws_name, ownership_tags};

pub(super) struct Builder<'a> {
    pub capsule: &'a str,
    pub env: &'a str,
    pub region: String,
    /// The AWS account (bucket names include it).
    pub account: &'a str,
    /// The folder of the capsule's `capsule.toml`; build contexts and site folders are
    /// relative to it.
    pub dir: &'a Path,
    pub resources: Vec<Resource>,
    pub artifacts: Vec<Artifact>,
    /// Where VPC resources go (`network::expand` sets it first).
    pub net: Net,
}

impl<'a> Builder<'a> {
    pub fn new(capsule: &'a str, env: &'a str, region: String, account: &'a str, dir: &'a Path) -> Self {
        Builder {
            capsule,
            env,
            region,
            account,
            dir,
            resources: Vec::new(),
            artifacts: Vec::new(),
            net: Net::default(),
        }
    }

    pub fn addr(&self, kind: Kind, name: &str) -> Address {
        Address { capsule: self.capsule.to_string(), env: self.env.to_string(), kind, name: name.to_string() }
    }

    /// `<capsule>-<env>-<name>`, shortened to `max` characters (an empty `name` gives
    /// `<capsule>-<env>`).
    pub fn name(&self, name: &str, max: usize) -> String {
        aws_name(&[self.capsule, self.env, name], max)
    }

    /// The IAM path of every role of this capsule environment.
    pub fn role_path(&self) -> String {
        format!("/capsule/{}/{}/", self.capsule, self.env)
    }

    /// The Secrets Manager name of secret `name`.
    pub fn secret_name(&self, name: &str) -> String {
        format!("capsule/{}/{}/{}", self.capsule, self.env, name)
    }

    /// A path relative to the capsule's folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// A security group in the capsule's VPC.
    pub fn security_group(
        &mut self,
        name: &str,
        description: String,
        ingress: Vec<Value>,
        mut deps: Vec<Address>,
    ) -> Address {
        deps.extend(self.net.vpc_deps.iter().cloned());
        let attributes = json!({ "description": description, "vpc": self.net.vpc, "ingress": ingress });
        self.add(Kind::SecurityGroup, name, self.name(name, 255), attributes, deps)
    }

    pub fn get(&self, address: &Address) -> Option<&Resource> {
        self.resources.iter().find(|r| &r.address == address)
    }

    /// Adds a resource in the capsule's region and returns its address.
    pub fn add(
        &mut self,
        kind: Kind,
        name: &str,
        aws_name: String,
        attributes: Value,
        depends_on: Vec<Address>,
    ) -> Address {
        self.add_in(kind, name, aws_name, self.region.clone(), attributes, depends_on)
    }

    /// Adds a resource in another region (CloudFront's certificates live in us-east-1).
    pub fn add_in(
        &mut self,
        kind: Kind,
        name: &str,
        aws_name: String,
        region: String,
        attributes: Value,
        depends_on: Vec<Address>,
    ) -> Address {
        let address = self.addr(kind, name);
        let attributes: BTreeMap<String, Value> = match attributes {
            Value::Object(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        self.resources.push(Resource {
            address: address.clone(),
            aws_name,
            region,
            attributes,
            depends_on,
            tags: ownership_tags(self.capsule, self.env, name),
        });
        address
    }

    /// An IAM role assumed by `service`, with its one inline policy (none when there is
    /// nothing to allow).
    pub fn role(
        &mut self,
        name: &str,
        description: &str,
        service: &str,
        statements: Vec<Value>,
        depends_on: Vec<Address>,
    ) -> Address {
        let attributes = json!({
            "path": self.role_path(),
            "description": description,
            "assumed_by": service,
            // only this account's ECS tasks / EventBridge rules may assume it
            "source_account": self.account,
            "managed_policies": [],
            "policy": if statements.is_empty() { Value::Null } else { json!({ "Version": "2012-10-17", "Statement": statements }) },
        });
        self.add(Kind::IamRole, name, self.name(name, 64), attributes, depends_on)
    }
}
