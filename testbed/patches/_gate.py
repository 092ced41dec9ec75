"""The test bed's front door (a helper, not a patch): every AWS request passes here before
moto handles it.

`install()` wraps moto's Flask view (`moto.core.utils.convert_to_flask_response`), which
every service's request reaches in server mode. For each request it builds a `Call` (the
service, its botocore model, the operation and, parsed on demand with moto's own
protocol parsers, the request's parameters), then runs the registered gates in order:
fault injection, throttling, model validation, documented rules, eventual consistency.
A gate answers an AWS error by raising `Reject`; `render()` writes it in the error shape of
the service's protocol (json, rest-json, query, ec2, rest-xml), so boto3 and the Rust SDK
parse the code. Requests to moto's own API (`/moto-api`) are not gated.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.routing import get_service_router
from moto.core.utils import convert_to_flask_response, get_service_model

log = logging.getLogger("capsule.testbed")

# moto backend names (the Flask app's `service`) whose botocore name differs.
BOTOCORE_NAMES = {"applicationautoscaling": "application-autoscaling"}
# One moto app serves two APIs told apart by the query protocol's `Version`.
BY_VERSION = {("elb", "2015-12-01"): "elbv2"}
NOT_GATED = {"moto_api", "instance_metadata", "core"}

# XML namespaces of the error bodies of the rest-xml services (query services take theirs
# from the model's metadata).
_REST_XML_NAMESPACES = {
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
}

_ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]{16,128})/")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/")


class Reject(Exception):
    """An AWS error answer: `code`, `message`, HTTP `status`; `sender` False for a server fault."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True, headers: dict[str, str] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.headers = headers or {}


_UNPARSED = object()


@dataclass
class Call:
    """One AWS request as the gates see it."""

    service: str  # moto backend name, e.g. "ecs", "applicationautoscaling", "sesv2"
    botocore_name: str
    request: Any  # moto's werkzeug Request
    model: Any = None  # moto's ServiceModel (botocore's, with moto's shape classes)
    protocol: str = ""
    operation: Any = None  # OperationModel, or None when the request matches no operation
    uri_params: dict[str, Any] = field(default_factory=dict)
    _params: Any = _UNPARSED

    @property
    def action(self) -> str | None:
        return self.operation.name if self.operation is not None else None

    @property
    def params(self) -> dict[str, Any] | None:
        """The request's input members, parsed by moto's parser for the protocol (for the json
        protocol the body as sent, keyed by the members' wire names, which for the json
        services capsule calls are the member names); None when the request cannot be
        parsed: the gates then leave it to moto."""
        if self._params is _UNPARSED:
            self._params = _parse(self)
        return self._params

    @property
    def account_id(self) -> str:
        from moto.iam.models import get_account_id_from
        import os

        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"]
        header = self.request.headers.get("x-moto-account-id")
        if header:
            return header
        match = _ACCESS_KEY.search(self.request.headers.get("Authorization", ""))
        return get_account_id_from(match.group(1) if match else "AKIAEXAMPLE")

    @property
    def region(self) -> str:
        match = _SCOPE.search(self.request.headers.get("Authorization", ""))
        return match.group(1) if match else "us-east-1"


Gate = Callable[[Call], None]
_gates: list[tuple[int, str, Gate]] = []
_models: dict[str, Any] = {}
_models_lock = threading.Lock()
_warned: set[Any] = set()


def warn_once(key: Any, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("testbed: %s", message)


def register(order: int, name: str, gate: Gate) -> None:
    """Run `gate` for every request, in ascending `order` (faults 10, throttling 20,
    validation 30, rules 40, consistency 50)."""
    _gates.append((order, name, gate))
    _gates.sort(key=lambda g: g[0])


def _model(botocore_name: str) -> Any:
    model = _models.get(botocore_name)
    if model is None and botocore_name not in _models:
        with _models_lock:
            try:
                model = get_service_model(botocore_name)
            except Exception:  # no botocore model: nothing to check against
                model = None
            _models[botocore_name] = model
    return model


class _Headers(dict):
    """The request's headers as a plain dict, looked up case-insensitively (several times
    faster for moto's rest parsers than werkzeug's environ-backed headers)."""

    def __init__(self, headers: Any) -> None:
        super().__init__((name.lower(), value) for name, value in headers.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def __getitem__(self, name: str) -> Any:
        return super().__getitem__(name.lower())


def _parse(call: Call) -> dict[str, Any] | None:
    if call.operation is None:
        return None
    request = call.request
    if call.protocol == "json":
        # The json protocol's body is the input structure itself (member names on the wire):
        # read as it is, which is several times faster than moto's parser.
        try:
            body = request.data
            params = json.loads(body) if body else {}
            return params if isinstance(params, dict) else None
        except ValueError:
            return None
    try:
        parser = PROTOCOL_PARSERS[call.protocol](call.operation, map_type=dict)
        return parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": _Headers(request.headers) if call.protocol.startswith("rest") else request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": call.uri_params,
            }
        )
    except Exception as error:  # moto answers what its own parser cannot read
        warn_once(("parse", call.botocore_name, call.action), f"cannot parse {call.botocore_name}:{call.action} ({error!r}); not validated")
        return None


def make_call(service: str, request: Any) -> Call | None:
    botocore_name = BOTOCORE_NAMES.get(service, service)
    if any(s == service for s, _ in BY_VERSION):
        botocore_name = BY_VERSION.get((service, request.values.get("Version", "")), botocore_name)
    model = _model(botocore_name)
    call = Call(service=service, botocore_name=botocore_name, request=request, model=model)
    if model is None:
        return call
    try:
        # Reading the body first, as moto itself does (form bodies are parsed into values).
        request.data  # noqa: B018
        call.protocol = determine_request_protocol(model, request.content_type)
        call.operation, call.uri_params = get_service_router(botocore_name).match(request)
    except Exception:
        call.operation = None
    return call


# --- error answers in each protocol's shape ---------------------------------------------------


def render(call: Call, error: Reject) -> tuple[int, dict[str, str], str]:
    request_id = str(uuid.uuid4())
    protocol = call.protocol or (call.model.protocol if call.model is not None else "json")
    headers = {"x-amzn-RequestId": request_id, **error.headers}
    fault = "Sender" if error.sender else "Receiver"
    code, message = escape(error.code), escape(error.message)
    if protocol in ("json", "rest-json"):
        version = (call.model.metadata.get("jsonVersion") if call.model is not None else None) or "1.1"
        headers["Content-Type"] = f"application/x-amz-json-{version}" if protocol == "json" else "application/json"
        headers["x-amzn-ErrorType"] = error.code
        body = json.dumps({"__type": error.code, "message": error.message})
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol == "rest-xml" and call.botocore_name == "s3":
        headers["Content-Type"] = "application/xml"
        headers["x-amz-request-id"] = request_id
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId>"
            "<HostId>testbed</HostId></Error>"
        )
    else:  # query, and the rest-xml services with an ErrorResponse (Route 53, CloudFront)
        namespace = _REST_XML_NAMESPACES.get(call.botocore_name) or (
            call.model.metadata.get("xmlNamespace") if call.model is not None else None
        )
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    if call.request.method == "HEAD":
        body = ""
    return error.status, headers, body


# --- the hook ------------------------------------------------------------------------------


def _gate(call: Call) -> tuple[int, dict[str, str], str] | None:
    for _, name, gate in _gates:
        try:
            gate(call)
        except Reject as error:
            return render(call, error)
        except Exception as error:  # a broken gate must not take the emulator down
            log.exception("testbed: gate %s failed on %s:%s", name, call.service, call.action)
            warn_once(("gate", name), f"gate {name} raised {error!r}")
    return None


_installed = False


def install() -> None:
    """Put the gates in front of every service (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    original = convert_to_flask_response.__call__

    def __call__(self: Any, args: Any = None, **kwargs: Any) -> Any:
        from flask import Response, current_app
        from flask import request as flask_request

        service = getattr(current_app, "service", None)
        if service and service not in NOT_GATED and _gates:
            request = flask_request._get_current_object()
            call = make_call(service, request)
            if call is not None:
                answer = _gate(call)
                if answer is not None:
                    status, headers, body = answer
                    return Response(response=body, status=status, headers=headers)
                request._testbed_call = call
        return original(self, args, **kwargs)

    convert_to_flask_response.__call__ = __call__  # type: ignore[method-assign]


def current_call() -> Call | None:
    """The Call of the request being handled (for patches inside moto's handlers)."""
    try:
        from flask import has_request_context
        from flask import request as flask_request

        if not has_request_context():
            return None
        return getattr(flask_request._get_current_object(), "_testbed_call", None)
    except Exception:
        return None
