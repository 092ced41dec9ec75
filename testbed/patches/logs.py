"""CloudWatch Logs: FilterLogEvents by stream name prefix, as the Logs API reference describes it.

Restores, against moto 5.2.5:

- FilterLogEvents with `logStreamNamePrefix` returns only the events of the group's streams
  whose names start with it (moto ignored the prefix and returned every stream's events).
- Both `logStreamNamePrefix` and `logStreamNames` fail with InvalidParameterException (moto
  took the names and ignored the prefix).

AWS: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
(logStreamNamePrefix: "Filters the results to include only events from log streams that have
names starting with this prefix. If you specify a value for both logStreamNamePrefix and
logStreamNames, the action returns an InvalidParameterException error.")
"""

import json
from typing import Any

from moto.logs.exceptions import InvalidParameterException
from moto.logs.responses import LogsResponse

from ._util import around

# A stream name no stream has (names cannot contain ':' or '*'): "no stream matches".
_NONE = "capsule-testbed:no*stream"


def apply() -> None:
    @around(LogsResponse, "filter_log_events")
    def filter_log_events(original: Any, self: LogsResponse) -> Any:
        prefix = self._get_param("logStreamNamePrefix")
        if prefix is None:
            return original(self)
        if self._get_param("logStreamNames"):
            raise InvalidParameterException(
                msg="Cannot specify both logStreamNames and logStreamNamePrefix in the same request."
            )
        group = self.logs_backend.groups.get(self._get_param("logGroupName"))
        names = [n for n in (group.streams if group else {}) if n.startswith(prefix)] or [_NONE]
        body = json.loads(self.body)
        body.pop("logStreamNamePrefix", None)
        body["logStreamNames"] = names
        self.body = json.dumps(body)
        return original(self)
