"""Every request is checked against the botocore model of its service, as AWS checks it.

Restores, against moto 5.2.5 (which validates almost nothing): a request whose parameters
violate its operation's input shapes is answered with AWS's validation error, before moto
handles it, so nothing is created. Checked, recursively through structures, lists and maps:

- required members ("Value null at 'roleName' failed to satisfy constraint: Member must not
  be null"); idempotency tokens excepted (the SDKs fill them in);
- string and blob length (`min` / `max`), string `pattern` (the models' Java regexes, matched
  against the whole value, as AWS's validator does; see patches/_regex.py), `enum`;
- numeric `min` / `max` (integer, long, float, double);
- list and map size (`min` / `max`), and every element, key and value.

One generic validator, compiled once per shape and cached; requests are parsed back into
parameters with moto's own parsers for each protocol (json, rest-json, query, ec2,
rest-xml), so every service capsule uses is covered, S3 included (its URI, header, query
string and XML body members; an object body is a blob and only its length could be
checked). The message is AWS's ("1 validation error detected: Value 'x' at 'familyName'
failed to satisfy constraint: Member must have length less than or equal to 255"; values of
`sensitive` shapes are left out, as AWS does), and the code the service answers:

| protocol / service | code (HTTP 400) |
| --- | --- |
| json (ACM, Secrets Manager, App Auto Scaling, EventBridge) | ValidationException |
| json: ECS, CloudWatch Logs, ECR | InvalidParameterException |
| query (IAM, STS, RDS, ElastiCache, ELBv2, SES) | ValidationError (`<ErrorResponse><Error><Type>Sender</Type>`) |
| ec2 | InvalidParameterValue; a missing required member: MissingParameter |
| rest-xml: S3, CloudFront / Route 53 | InvalidArgument / InvalidInput |
| rest-json (SESv2) | BadRequestException |

Not validated: requests moto's router or parser cannot read (logged once per operation);
patterns Python cannot compile even after translation (logged once each; none in the
services capsule calls); member types (a wrong JSON type is moto's to reject); event
streams and document members.

Switch: CAPSULE_TESTBED_VALIDATION=0 (or CAPSULE_TESTBED_OFF=validation).

AWS: the AWS API references list these constraints per parameter ("Length Constraints",
"Pattern", "Valid Values", "Valid Range", "Required: Yes"), e.g.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html;
the common errors: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html
(ValidationError / ValidationException "The input fails to satisfy the constraints
specified by an AWS service", MissingParameter); EC2:
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
(InvalidParameterValue, MissingParameter); CloudWatch Logs answers
InvalidParameterException "1 validation error detected: Value '[]' at 'logEvents' failed to
satisfy constraint: Member must have length greater than or equal to 1".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from . import _gate, _switches
from ._regex import compile_java, warm_up

Check = Callable[[Any, str, list[str], list[str]], None]  # (value, path, errors, missing)

# The code each service answers a model violation with (default by protocol below).
SERVICE_CODES = {
    "ecs": "InvalidParameterException",
    "logs": "InvalidParameterException",
    "ecr": "InvalidParameterException",
    "s3": "InvalidArgument",
    "route53": "InvalidInput",
    "cloudfront": "InvalidArgument",
}
PROTOCOL_CODES = {
    "json": "ValidationException",
    "rest-json": "BadRequestException",
    "query": "ValidationError",
    "ec2": "InvalidParameterValue",
    "rest-xml": "InvalidArgument",
}

_NUMERIC = ("integer", "long", "float", "double", "short", "byte", "bigInteger", "bigDecimal")


def _name(member: str) -> str:
    return member[:1].lower() + member[1:]


def _shown(value: Any, sensitive: bool) -> str:
    if sensitive:
        return "Value"
    if isinstance(value, bytes):
        value = f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    elif isinstance(value, list):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    elif isinstance(value, bool):
        value = str(value).lower()
    return f"Value '{value}'"


class _Compiler:
    """Builds, once per shape of one service model, the function that checks a value."""

    def __init__(self, service: str, wire: bool) -> None:
        self.service = service
        self.wire = wire  # values as on the wire (json protocol): wire names, base64 blobs
        self.checks: dict[str, Check | None] = {}
        self.lock = threading.Lock()

    def check_for(self, shape: Any) -> Check | None:
        name = shape.name
        if name in self.checks:
            return self.checks[name]
        # A placeholder first: recursive shapes look their check up when they run.
        self.checks[name] = lambda value, path, errors, missing: self._late(name, value, path, errors, missing)
        check = self._build(shape)
        self.checks[name] = check
        return check

    def _late(self, name: str, value: Any, path: str, errors: list[str], missing: list[str]) -> None:
        check = self.checks.get(name)
        if check is not None:
            check(value, path, errors, missing)

    def _build(self, shape: Any) -> Check | None:
        kind = shape.type_name
        metadata = shape.metadata
        sensitive = bool(metadata.get("sensitive"))
        if kind == "structure":
            if shape.is_document_type or metadata.get("eventstream"):
                return None
            required = set(metadata.get("required", []))
            members = []
            for member_name, member in shape.members.items():
                is_required = member_name in required and not member.metadata.get("idempotencyToken")
                if member.serialization.get("eventpayload") or member.metadata.get("eventstream"):
                    continue
                check = self.check_for(member)
                if is_required or check is not None:
                    key = member.serialization.get("name", member_name) if self.wire else member_name
                    members.append((key, _name(member_name), is_required, check))
            if not members:
                return None

            def check_structure(value: Any, path: str, errors: list[str], missing: list[str]) -> None:
                if not isinstance(value, dict):
                    return
                for member_name, shown, is_required, check in members:
                    member_value = value.get(member_name)
                    member_path = f"{path}.{shown}" if path else shown
                    if member_value is None:
                        if is_required:
                            errors.append(f"Value null at '{member_path}' failed to satisfy constraint: Member must not be null")
                            missing.append(member_name)
                    elif check is not None:
                        check(member_value, member_path, errors, missing)

            return check_structure
        if kind in ("list", "map"):
            low, high = metadata.get("min"), metadata.get("max")
            if kind == "list":
                inner = self.check_for(shape.member)
                key_check = None
            else:
                inner = self.check_for(shape.value)
                key_check = self.check_for(shape.key)
            if low is None and high is None and inner is None and key_check is None:
                return None

            def check_collection(value: Any, path: str, errors: list[str], missing: list[str]) -> None:
                if not isinstance(value, (list, dict)):
                    return
                size = len(value)
                if low is not None and size < low:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {low}")
                if high is not None and size > high:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have length less than or equal to {high}")
                if isinstance(value, list):
                    if inner is not None:
                        for index, item in enumerate(value, 1):
                            if item is not None:
                                inner(item, f"{path}.{index}.member", errors, missing)
                else:
                    for key, item in value.items():
                        if key_check is not None:
                            before = len(errors)
                            key_check(key, path, errors, missing)
                            if len(errors) > before:
                                errors[before:] = [f"Map keys must satisfy constraint: [{e}]" for e in errors[before:]]
                        if inner is not None and item is not None:
                            inner(item, f"{path}.{key}", errors, missing)

            return check_collection
        if kind in ("string", "blob"):
            if kind == "blob" and self.wire:
                return None  # base64 on the wire: its decoded length is moto's to read
            low, high = metadata.get("min"), metadata.get("max")
            enum = frozenset(metadata["enum"]) if kind == "string" and metadata.get("enum") else None
            pattern_text = metadata.get("pattern") if kind == "string" else None
            pattern = None
            if pattern_text is not None:
                pattern = compile_java(pattern_text)
                if pattern is None:
                    _gate.warn_once(("pattern", pattern_text), f"{self.service}: pattern {pattern_text!r} of {shape.name} cannot be compiled; not checked")
            if low is None and high is None and enum is None and pattern is None:
                return None
            enum_text = "[" + ", ".join(metadata.get("enum", [])) + "]"

            def check_string(value: Any, path: str, errors: list[str], missing: list[str]) -> None:
                if not isinstance(value, (str, bytes)):
                    return
                size = len(value)
                if low is not None and size < low:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {low}")
                if high is not None and size > high:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have length less than or equal to {high}")
                if isinstance(value, str):
                    if pattern is not None and pattern.fullmatch(value) is None:
                        errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern_text}")
                    if enum is not None and value not in enum:
                        errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must satisfy enum value set: {enum_text}")

            return check_string
        if kind in _NUMERIC:
            low, high = metadata.get("min"), metadata.get("max")
            if low is None and high is None:
                return None

            def check_number(value: Any, path: str, errors: list[str], missing: list[str]) -> None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    return
                if low is not None and value < low:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {low}")
                if high is not None and value > high:
                    errors.append(f"{_shown(value, sensitive)} at '{path}' failed to satisfy constraint: Member must have value less than or equal to {high}")

            return check_number
        return None


_compilers: dict[tuple[str, bool], _Compiler] = {}
_operation_checks: dict[tuple[str, str], Check | None] = {}


def _operation_check(call: _gate.Call) -> Check | None:
    key = (call.botocore_name, call.action)
    if key in _operation_checks:
        return _operation_checks[key]
    wire = call.protocol == "json"
    compiler = _compilers.get((call.botocore_name, wire))
    if compiler is None:
        compiler = _compilers.setdefault((call.botocore_name, wire), _Compiler(call.botocore_name, wire))
    with compiler.lock:
        shape = call.operation.input_shape
        check = compiler.check_for(shape) if shape is not None else None
    _operation_checks[key] = check
    return check


def violations(call: _gate.Call) -> tuple[list[str], list[str]]:
    """The model violations of a request, and the required members it lacks."""
    if call.operation is None:
        return [], []
    check = _operation_check(call)
    if check is None:
        return [], []
    params = call.params
    if params is None:
        return [], []
    errors: list[str] = []
    missing: list[str] = []
    check(params, "", errors, missing)
    return errors, missing


def reject_for(call: _gate.Call, errors: list[str], missing: list[str]) -> _gate.Reject:
    if call.protocol == "ec2":
        if missing and len(missing) == len(errors):
            return _gate.Reject("MissingParameter", f"The request must contain the parameter {missing[0]}")
        # EC2 names one problem at a time.
        return _gate.Reject("InvalidParameterValue", errors[-1] if not missing else errors[0])
    code = SERVICE_CODES.get(call.botocore_name) or PROTOCOL_CODES.get(call.protocol, "ValidationException")
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return _gate.Reject(code, f"{count} validation {noun} detected: " + "; ".join(errors))


def _validate(call: _gate.Call) -> None:
    errors, missing = violations(call)
    if errors:
        raise reject_for(call, errors, missing)


def apply() -> None:
    if not _switches.enabled("validation"):
        return
    warm_up()
    _gate.install()
    _gate.register(30, "validation", _validate)
