"""Application Auto Scaling: tags on scalable targets, not-found errors, cascading deletes.

Restores, against moto 5.2.5:

1. Scalable targets can be tagged. RegisterScalableTarget applies `Tags` to a target it
   creates (an existing target keeps its tags), and TagResource, UntagResource and
   ListTagsForResource work on a scalable target's ARN; an ARN that names no target fails
   with ResourceNotFoundException. Moto ignored `Tags` and had none of the three calls
   (HTTP 500), so nothing could tell whose a scalable target is.
   AWS: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
   ("Tags: Assigns one or more tags to the scalable target. Use this parameter to tag the
   scalable target when it is created. To tag an existing scalable target, use the
   TagResource operation"), API_ListTagsForResource.html, API_TagResource.html,
   API_UntagResource.html ("ResourceNotFoundException: The specified resource doesn't
   exist").

2. DeregisterScalableTarget of a target that is not registered, and DeleteScalingPolicy
   of a policy that does not exist, fail with ObjectNotFoundException (HTTP 400); so does
   PutScalingPolicy for a scalable target that is not registered. Moto answered the first
   two with ValidationException and accepted the third. AWS: API_DeregisterScalableTarget.html,
   API_DeleteScalingPolicy.html, API_PutScalingPolicy.html ("ObjectNotFoundException: The
   specified object could not be found. For any operation that depends on the existence of
   a scalable target, this exception is thrown if the scalable target with the specified
   service namespace, resource ID, and scalable dimension does not exist. For any operation
   that deletes or deregisters a resource, this exception is thrown if the resource cannot
   be found").

3. Deregistering a scalable target deletes its scaling policies and scheduled actions.
   Moto kept them. AWS: API_DeregisterScalableTarget.html ("Deregistering a scalable
   target deletes the scaling policies and the scheduled actions that are associated with
   it").

4. DescribeScalableTargets pages correctly: the NextToken of a page points after that
   page. Moto's token was always "MaxResults - 1", so from the third page on the same page
   came back forever. AWS: API_DescribeScalableTargets.html (NextToken).
"""

import json
from typing import Any

from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    FakeApplicationAutoscalingPolicy,
    FakeScalableTarget,
)
from moto.applicationautoscaling.responses import (
    ApplicationAutoScalingResponse,
    _build_target,
)
from moto.core.exceptions import JsonRESTError

from ._util import around


class ObjectNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


class ResourceNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


def _tags(target: FakeScalableTarget) -> dict[str, str]:
    if not hasattr(target, "capsule_tags"):
        target.capsule_tags = {}  # type: ignore[attr-defined]
    return target.capsule_tags  # type: ignore[attr-defined,no-any-return]


def _target_by_arn(backend: ApplicationAutoscalingBackend, arn: str) -> FakeScalableTarget:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise ResourceNotFoundException(f"Resource {arn} does not exist")


def _missing_target(namespace: str, resource_id: str, dimension: str) -> ObjectNotFoundException:
    return ObjectNotFoundException(
        f"No scalable target registered for service namespace: {namespace}, "
        f"resource ID: {resource_id}, scalable dimension: {dimension}"
    )


def apply() -> None:
    @around(ApplicationAutoScalingResponse, "register_scalable_target")
    def register_scalable_target(original: Any, self: ApplicationAutoScalingResponse) -> Any:
        backend = self.applicationautoscaling_backend
        resource_id = self._get_param("ResourceId")
        dimension = self._get_param("ScalableDimension")
        existed = backend._scalable_target_exists(resource_id, dimension)
        result = original(self)
        tags = self._get_param("Tags") or {}
        if not existed and tags:
            _tags(backend.targets[dimension][resource_id]).update(tags)
        return result

    def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        return json.dumps({"Tags": dict(_tags(target))})

    def tag_resource(self: ApplicationAutoScalingResponse) -> str:
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        _tags(target).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self: ApplicationAutoScalingResponse) -> str:
        target = _target_by_arn(self.applicationautoscaling_backend, self._get_param("ResourceARN"))
        for key in self._get_param("TagKeys") or []:
            _tags(target).pop(key, None)
        return json.dumps({})

    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]

    @around(ApplicationAutoscalingBackend, "deregister_scalable_target")
    def deregister_scalable_target(
        original: Any, self: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str
    ) -> None:
        if not self._scalable_target_exists(r_id, dimension):
            raise ObjectNotFoundException(
                f"No scalable target found for service namespace: {namespace}, "
                f"resource ID: {r_id}, scalable dimension: {dimension}"
            )
        original(self, namespace, r_id, dimension)
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                namespace,
                r_id,
                dimension,
            ):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]
        self.scheduled_actions = [
            a
            for a in self.scheduled_actions
            if (a.service_namespace, a.resource_id, a.scalable_dimension) != (namespace, r_id, dimension)
        ]

    @around(ApplicationAutoscalingBackend, "delete_scaling_policy")
    def delete_scaling_policy(
        original: Any,
        self: ApplicationAutoscalingBackend,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
    ) -> None:
        key = FakeApplicationAutoscalingPolicy.formulate_key(
            service_namespace, resource_id, scalable_dimension, policy_name
        )
        if key not in self.policies:
            raise ObjectNotFoundException(
                f"No scaling policy found for service namespace: {service_namespace}, resource ID: "
                f"{resource_id}, scalable dimension: {scalable_dimension}, policy name: {policy_name}"
            )
        original(self, policy_name, service_namespace, resource_id, scalable_dimension)

    @around(ApplicationAutoscalingBackend, "put_scaling_policy")
    def put_scaling_policy(
        original: Any,
        self: ApplicationAutoscalingBackend,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if not self._scalable_target_exists(resource_id, scalable_dimension):
            raise _missing_target(service_namespace, resource_id, scalable_dimension)
        return original(self, policy_name, service_namespace, resource_id, scalable_dimension, *args, **kwargs)

    def describe_scalable_targets(self: ApplicationAutoScalingResponse) -> str:
        self._validate_params()
        targets = self.applicationautoscaling_backend.describe_scalable_targets(
            self._get_param("ServiceNamespace"),
            self._get_param("ResourceIds"),
            self._get_param("ScalableDimension"),
        )
        max_results = self._get_int_param("MaxResults") or 50
        token = self._get_param("NextToken")
        start = int(token) if token else 0
        page = targets[start : start + max_results]
        next_token = str(start + max_results) if len(targets) > start + max_results else None
        return json.dumps({"ScalableTargets": [_build_target(t) for t in page], "NextToken": next_token})

    ApplicationAutoScalingResponse.describe_scalable_targets = describe_scalable_targets  # type: ignore[method-assign]
