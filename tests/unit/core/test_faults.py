"""Fault kinds from any client library's exceptions: `core.faults`."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from core.faults import DependencyFault, classify, retry_after_seconds


class Response:
    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.headers = headers or {}


class APIStatusError(Exception):
    """Shaped like the provider SDKs' HTTP errors: a status code and the response."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.response = Response(status_code, headers)


class ResponseOnlyError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__()
        self.response = Response(status_code)


class ReadTimeout(Exception):
    pass


class APITimeoutError(Exception):
    pass


class RateLimitError(Exception):
    pass


class APIConnectionError(Exception):
    pass


class OutputParserException(Exception):
    pass


# DependencyFault -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["timeout", "rate_limit", "server"])
def test_timeouts_rate_limits_and_server_errors_are_retryable(kind):
    assert DependencyFault(kind).retryable


@pytest.mark.parametrize("kind", ["malformed", "empty", "client", "unavailable"])
def test_other_faults_are_not_retryable(kind):
    assert not DependencyFault(kind).retryable


def test_a_fault_message_names_its_kind_and_detail():
    assert str(DependencyFault("server", "HTTP 503")) == "server: HTTP 503"
    assert str(DependencyFault("empty")) == "empty"


# retry_after_seconds ---------------------------------------------------------------------------------------


def test_retry_after_in_seconds():
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25


def test_retry_after_ms_wins_over_retry_after():
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5


def test_retry_after_as_an_http_date_gives_the_seconds_until_then():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert retry_after_seconds({"retry-after": when}) == pytest.approx(120, abs=2)


def test_an_http_date_marked_minus_zero_is_read_as_gmt(monkeypatch):
    # RFC 2822 "-0000" gives a naive datetime; it must not be taken as local time.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        when = email.utils.formatdate(time.time() + 60, usegmt=True).replace("GMT", "-0000")
        assert retry_after_seconds({"retry-after": when}) == pytest.approx(60, abs=2)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_retry_after_in_the_past_is_zero():
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert retry_after_seconds({"retry-after": past}) == 0.0


@pytest.mark.parametrize(
    "headers",
    [None, {}, {"retry-after": ""}, "not a mapping", {"retry-after": "soon"}, {"retry-after-ms": "lots"}],
)
def test_missing_or_unreadable_retry_after_is_none(headers):
    assert retry_after_seconds(headers) is None


# classify --------------------------------------------------------------------------------------------------


def test_a_dependency_fault_is_returned_as_it_is():
    fault = DependencyFault("malformed", "bad JSON")
    assert classify(fault) is fault


@pytest.mark.parametrize("exc", [TimeoutError(), ReadTimeout(), APITimeoutError()])
def test_timeouts_by_type_or_name(exc):
    assert classify(exc).kind == "timeout"


def test_a_429_is_a_rate_limit_carrying_the_servers_retry_after():
    fault = classify(APIStatusError(429, {"retry-after": "3"}))
    assert fault.kind == "rate_limit"
    assert fault.retry_after == 3.0


def test_a_429_with_an_unreadable_retry_after_is_still_a_rate_limit():
    fault = classify(APIStatusError(429, {"retry-after": "Tuesday-ish"}))
    assert fault.kind == "rate_limit"
    assert fault.retry_after is None


def test_a_rate_limit_error_by_name_without_a_status():
    fault = classify(RateLimitError())
    assert fault.kind == "rate_limit" and fault.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_5xx_is_a_server_fault(status):
    fault = classify(APIStatusError(status, {"retry-after": "2"}))
    assert fault.kind == "server"
    assert fault.detail == f"HTTP {status}"
    assert fault.retry_after == 2.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_is_a_client_fault(status):
    assert classify(APIStatusError(status)).kind == "client"


def test_request_timeout_408_is_a_timeout_and_retried():
    fault = classify(APIStatusError(408))
    assert fault.kind == "timeout" and fault.retryable


def test_the_status_may_come_from_the_response_alone():
    assert classify(ResponseOnlyError(503)).kind == "server"
    assert classify(ResponseOnlyError(404)).kind == "client"


def test_a_code_attribute_outside_the_http_range_is_not_a_status():
    exc = Exception("boom")
    exc.code = 42  # type: ignore[attr-defined]
    assert classify(exc).kind == "unavailable"


def test_unreadable_output_is_malformed():
    try:
        json.loads("{not json")
    except json.JSONDecodeError as exc:
        assert classify(exc).kind == "malformed"
    assert classify(OutputParserException()).kind == "malformed"


def test_connection_errors_and_anything_unknown_are_unavailable():
    assert classify(ConnectionRefusedError()).kind == "unavailable"
    assert classify(APIConnectionError()).kind == "unavailable"
    assert classify(RuntimeError("?")).kind == "unavailable"


def test_the_detail_names_the_exception_type_never_its_message():
    fault = classify(RuntimeError("customer said: my card number is 4111"))
    assert fault.detail == "RuntimeError"
    assert "4111" not in str(fault)
