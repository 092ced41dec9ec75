//! VPC flow logs to a CloudWatch Logs group, found by their ownership tags. Attributes:
//! `vpc`, `traffic_type`, `log_group`, `role` (the role VPC Flow Logs writes with); a flow
//! log cannot change, so each forces a replacement. Outputs: `id`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{FlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use serde_json::{Value, json};

use super::ec2::{client_token, created, filters_for, not_again, owned_filters, tag_spec, tags};
use crate::aws::adapter::{Visible, attr_str};
use crate::aws::{Adapter, AwsError, AwsResultExt, Cx, ErrorKind, Live};
use crate::model::{Kind, Resource};

pub struct FlowLogAdapter;

fn live_of(region: &str, f: &FlowLog) -> Live {
    Live {
        aws_name: f.flow_log_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        attributes: BTreeMap::from([
            ("vpc".into(), json!(f.resource_id())),
            ("traffic_type".into(), json!(f.traffic_type().map(|t| t.as_str()))),
            ("log_group".into(), json!(f.log_group_name())),
            ("role".into(), json!(f.deliver_logs_permission_arn())),
        ]),
        outputs: BTreeMap::from([("id".into(), json!(f.flow_log_id()))]),
        tags: tags(f.tags()),
    }
}

impl FlowLogAdapter {
    async fn described(
        &self,
        cx: &Cx,
        region: &str,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Live>, AwsError> {
        let mut pages = cx.aws.ec2(region).describe_flow_logs().set_filter(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.aws("ec2:DescribeFlowLogs")?.flow_logs().iter().map(|f| live_of(region, f)));
        }
        Ok(out)
    }
}

/// CreateFlowLogs and DeleteFlowLogs report per-resource failures in their answer.
fn failure(op: &'static str, items: &[aws_sdk_ec2::types::UnsuccessfulItem]) -> Result<(), AwsError> {
    match items.first().and_then(|u| u.error()) {
        Some(e) if e.code() != Some("InvalidFlowLogId.NotFound") => Err(AwsError::new(
            ErrorKind::Other,
            op,
            format!("{}: {}", e.code().unwrap_or_default(), e.message().unwrap_or_default()),
        )),
        _ => Ok(()),
    }
}

#[async_trait]
impl Adapter for FlowLogAdapter {
    fn kind(&self) -> Kind {
        Kind::FlowLog
    }

    fn forces_replacement(&self) -> &'static [&'static str] {
        &["vpc", "traffic_type", "log_group", "role"]
    }

    fn observes_by_listing(&self) -> bool {
        true
    }

    async fn observe(&self, cx: &Cx, r: &Resource) -> Result<Option<Live>, AwsError> {
        Ok(self.described(cx, &r.region, filters_for(cx, r, "flow-log-id")).await?.into_iter().next())
    }

    async fn create(&self, cx: &Cx, r: &Resource, attrs: &BTreeMap<String, Value>) -> Result<Live, AwsError> {
        const OP: &str = "ec2:CreateFlowLogs";
        if let Some(live) = self.observe(cx, r).await? {
            return Ok(live);
        }
        not_again(cx, r, "ec2:CreateFlowLogs")?;
        let out = cx
            .aws
            .ec2(&r.region)
            .create_flow_logs()
            .client_token(client_token(cx, r))
            .resource_ids(attr_str(attrs, "vpc"))
            .resource_type(FlowLogsResourceType::Vpc)
            .traffic_type(TrafficType::from(attr_str(attrs, "traffic_type")))
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(attr_str(attrs, "log_group"))
            .deliver_logs_permission_arn(attr_str(attrs, "role"))
            .tag_specifications(tag_spec(cx, r, ResourceType::VpcFlowLog))
            .send()
            .await
            .aws(OP)?;
        failure(OP, out.unsuccessful())?;
        if let Some(id) = out.flow_log_ids().first() {
            created(cx, r, id);
        }
        self.observe(cx, r).await?.visible("ec2:DescribeFlowLogs")
    }

    async fn update(
        &self,
        _cx: &Cx,
        _r: &Resource,
        _attrs: &BTreeMap<String, Value>,
        live: &Live,
    ) -> Result<Live, AwsError> {
        Ok(live.clone())
    }

    async fn delete(&self, cx: &Cx, live: &Live) -> Result<(), AwsError> {
        const OP: &str = "ec2:DeleteFlowLogs";
        let out = cx.aws.ec2(&live.region).delete_flow_logs().flow_log_ids(&live.aws_name).send().await;
        match out.aws(OP) {
            Ok(out) => failure(OP, out.unsuccessful()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list_owned(&self, cx: &Cx) -> Result<Vec<Live>, AwsError> {
        let lives = self.described(cx, &cx.region, owned_filters(cx)).await?;
        Ok(lives.into_iter().filter(|l| l.is_owned_by(&cx.capsule, &cx.env)).collect())
    }
}
