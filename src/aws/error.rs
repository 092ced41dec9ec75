//! SDK errors become capsule's own error kinds here, and nowhere else: whether a failure
//! means "absent", "retry later" or "your fault" is decided once, at the adapter boundary.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Throttled,
    AccessDenied,
    Invalid,
    Transient,
    Other,
}

impl ErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Throttled => "throttled",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Transient => "temporary failure",
            ErrorKind::Other => "failed",
        })
    }
}

/// A failed AWS call: which operation, what kind of failure, AWS's code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {kind}{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct AwsError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        AwsError { kind, operation, code: None, message: message.into() }
    }
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
    /// The same error, saying it persisted through retries.
    pub fn after_retries(mut self, attempts: u32, elapsed: std::time::Duration) -> Self {
        self.message = format!("{} (still failing after {attempts} attempts in {}s)", self.message, elapsed.as_secs());
        self
    }
}

/// Codes that mean "absent" across services (each service names it its own way).
const NOT_FOUND: &[&str] = &[
    "NoSuchEntity",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NoSuchLifecyclePolicy",
    "NoSuchBucketPolicy",
    "NoSuchDistribution",
    "NoSuchOriginAccessControl",
    "NoSuchFunctionExists",
    "ResourceNotFoundException",
    "RepositoryNotFoundException",
    "LifecyclePolicyNotFoundException",
    "ServerSideEncryptionConfigurationNotFoundError",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "InvalidGroup.NotFound",
    "DBInstanceNotFound",
    "NotFound",
];
const CONFLICT: &[&str] = &[
    "EntityAlreadyExists",
    "ResourceExistsException",
    "ResourceAlreadyExistsException",
    "RepositoryAlreadyExistsException",
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "OperationAbortedException",
    "ConcurrentModificationException",
    "ConflictException",
    "PreconditionFailed",
    "ConditionalRequestConflict",
    "DeleteConflict",
    "InvalidRequestException",
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyInvalidationsInProgress",
    // Route 53: a change batch while the previous one is still applying
    "PriorRequestNotComplete",
    "RequestThrottled",
    "RequestThrottledException",
];
/// Codes AWS answers for a failure on its side; the request may be sent again.
const TEMPORARY: &[&str] = &[
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Errors of one operation that AWS documents as eventual consistency: an object created a
/// moment ago is not known yet to the service (or the part of it) the call reaches.
/// (operation, code, a part of the message; "" matches any message).
const CONSISTENCY: &[(&str, &str, &str)] = &[
    // docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
    ("ec2:AuthorizeSecurityGroupIngress", "InvalidGroup.NotFound", ""),
    ("ec2:RevokeSecurityGroupIngress", "InvalidGroup.NotFound", ""),
    ("ec2:AuthorizeSecurityGroupEgress", "InvalidGroup.NotFound", ""),
    ("ec2:RevokeSecurityGroupEgress", "InvalidGroup.NotFound", ""),
    // a certificate ACM issued moments ago, not yet known to ELB or CloudFront
    ("elbv2:CreateListener", "CertificateNotFound", ""),
    ("elbv2:ModifyListener", "CertificateNotFound", ""),
    ("cloudfront:CreateDistribution", "InvalidViewerCertificate", ""),
    ("cloudfront:UpdateDistribution", "InvalidViewerCertificate", ""),
    // the ECS service-linked role, created on first use, takes a moment to be assumable
    // (github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/818)
    ("ecs:CreateCluster", "InvalidParameterException", "service linked role"),
    ("ecs:PutClusterCapacityProviders", "InvalidParameterException", "service linked role"),
    // a role or target-group association made moments ago (IAM propagation; ELB rules)
    ("ecs:CreateService", "InvalidParameterException", "does not have an associated load balancer"),
    ("ecs:UpdateService", "InvalidParameterException", "does not have an associated load balancer"),
    ("ecs:CreateService", "InvalidParameterException", "Unable to assume role"),
    // a VPC, subnet, gateway or route table created moments ago, not yet known to the call
    // that references it (docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html)
    ("ec2:CreateSubnet", "InvalidVpcID.NotFound", ""),
    ("ec2:CreateRouteTable", "InvalidVpcID.NotFound", ""),
    ("ec2:CreateSecurityGroup", "InvalidVpcID.NotFound", ""),
    ("ec2:CreateVpcEndpoint", "InvalidVpcID.NotFound", ""),
    ("ec2:ModifyVpcAttribute", "InvalidVpcID.NotFound", ""),
    ("ec2:AttachInternetGateway", "InvalidVpcID.NotFound", ""),
    ("ec2:AttachInternetGateway", "InvalidInternetGatewayID.NotFound", ""),
    ("ec2:CreateRoute", "InvalidRouteTableID.NotFound", ""),
    ("ec2:CreateRoute", "InvalidGatewayID.NotFound", ""),
    ("ec2:CreateRoute", "InvalidNatGatewayID.NotFound", ""),
    ("ec2:AssociateRouteTable", "InvalidSubnetID.NotFound", ""),
    ("ec2:AssociateRouteTable", "InvalidRouteTableID.NotFound", ""),
    ("ec2:CreateNatGateway", "InvalidSubnetID.NotFound", ""),
    ("ec2:CreateNatGateway", "InvalidAllocationID.NotFound", ""),
    // a role created moments ago, not yet assumable by VPC Flow Logs, which assumes it while
    // answering (IAM troubleshoot_general.html, eventual consistency)
    ("ec2:CreateFlowLogs", "InvalidParameter", "Unable to assume given IAM role"),
    ("iam:PutRolePolicy", "NoSuchEntity", ""),
    ("iam:TagRole", "NoSuchEntity", ""),
    ("iam:UpdateAssumeRolePolicy", "NoSuchEntity", ""),
];

fn is_consistency(operation: &str, code: &str, message: &str) -> bool {
    CONSISTENCY.iter().any(|(op, c, part)| *op == operation && *c == code && message.contains(part))
}

/// Credentials refused or not allowed. Several come with 400 (`AccessDeniedException`,
/// `NotAuthorized`, `UnrecognizedClientException`) or 401 (EC2's `AuthFailure`), not 403,
/// so the code decides (AWS's common errors and EC2's error codes).
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "NotAuthorized",
    "OptInRequired",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
];

fn classify_code(code: &str, status: Option<u16>) -> ErrorKind {
    if NOT_FOUND.contains(&code)
        || code.ends_with("NotFound")
        || code.ends_with("NotFoundFault")
        || code.ends_with("NotFoundException")
    {
        ErrorKind::NotFound
    } else if THROTTLED.contains(&code) {
        ErrorKind::Throttled
    } else if TEMPORARY.contains(&code) {
        ErrorKind::Transient
    } else if DENIED.contains(&code) {
        ErrorKind::AccessDenied
    } else if CONFLICT.contains(&code) || code.ends_with("AlreadyExists") || code.ends_with("AlreadyExistsFault") {
        ErrorKind::Conflict
    } else {
        match status {
            Some(404) => ErrorKind::NotFound,
            Some(409) => ErrorKind::Conflict,
            Some(429) => ErrorKind::Throttled,
            Some(401 | 403) => ErrorKind::AccessDenied,
            Some(s) if s >= 500 => ErrorKind::Transient,
            Some(400..=499) => ErrorKind::Invalid,
            _ => ErrorKind::Other,
        }
    }
}

/// Maps any SDK error of `operation`.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = Some(service.raw().status().as_u16());
            let inner = service.err();
            let code = inner.code().map(str::to_string);
            let message = inner.message().map(str::to_string).unwrap_or_else(|| inner.to_string());
            let kind = match code.as_deref() {
                Some(c) if is_consistency(operation, c, &message) => ErrorKind::Transient,
                c => classify_code(c.unwrap_or_default(), status),
            };
            AwsError {
                kind,
                operation,
                code,
                message: if message.is_empty() { format!("HTTP {}", service.raw().status().as_u16()) } else { message },
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsError { kind: ErrorKind::Transient, operation, code: None, message: error_chain(&err) }
        }
        _ => AwsError { kind: ErrorKind::Other, operation, code: None, message: error_chain(&err) },
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// `.aws("op")` on an SDK result, and `.found()` to turn "absent" into `None`.
pub trait AwsResultExt<T> {
    fn aws(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn aws(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| classify(operation, e))
    }
}

pub trait FoundExt<T> {
    /// `Ok(None)` for a not-found error, the error otherwise.
    fn found(self) -> Result<Option<T>, AwsError>;
}

impl<T> FoundExt<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(classify_code("NoSuchEntity", Some(404)), ErrorKind::NotFound);
        assert_eq!(classify_code("DBInstanceNotFound", Some(404)), ErrorKind::NotFound);
        assert_eq!(classify_code("InvalidGroup.NotFound", Some(400)), ErrorKind::NotFound);
        assert_eq!(classify_code("EntityAlreadyExists", Some(409)), ErrorKind::Conflict);
        assert_eq!(classify_code("ThrottlingException", Some(400)), ErrorKind::Throttled);
        assert_eq!(classify_code("AccessDenied", Some(403)), ErrorKind::AccessDenied);
        assert_eq!(classify_code("ValidationError", Some(400)), ErrorKind::Invalid);
        assert_eq!(classify_code("", Some(503)), ErrorKind::Transient);
        assert_eq!(classify_code("", Some(404)), ErrorKind::NotFound);
        assert!(ErrorKind::Throttled.is_retryable() && !ErrorKind::Invalid.is_retryable());
        assert_eq!(classify_code("ServiceUnavailable", Some(503)), ErrorKind::Transient);
        assert_eq!(classify_code("PriorRequestNotComplete", Some(400)), ErrorKind::Throttled);
        // EC2 answers bad credentials with 401 AuthFailure; JSON services with 400.
        assert_eq!(classify_code("AuthFailure", Some(401)), ErrorKind::AccessDenied);
        assert_eq!(classify_code("UnrecognizedClientException", Some(400)), ErrorKind::AccessDenied);
        assert_eq!(classify_code("NotAuthorized", Some(400)), ErrorKind::AccessDenied);
        assert_eq!(classify_code("", Some(401)), ErrorKind::AccessDenied);
    }

    #[test]
    fn eventual_consistency_is_temporary_only_where_aws_documents_it() {
        assert!(is_consistency(
            "ec2:AuthorizeSecurityGroupIngress",
            "InvalidGroup.NotFound",
            "The security group 'sg-1' does not exist"
        ));
        assert!(!is_consistency("ec2:DescribeSecurityGroups", "InvalidGroup.NotFound", ""));
        assert!(is_consistency(
            "ecs:PutClusterCapacityProviders",
            "InvalidParameterException",
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
        ));
        assert!(is_consistency(
            "ec2:CreateFlowLogs",
            "InvalidParameter",
            "Unable to assume given IAM role: 'arn:aws:iam::123456789012:role/flow'"
        ));
        assert!(!is_consistency("ec2:CreateFlowLogs", "InvalidParameter", "Invalid traffic type"));
        assert!(!is_consistency(
            "ecs:PutClusterCapacityProviders",
            "InvalidParameterException",
            "capacity provider X does not exist"
        ));
    }
}
