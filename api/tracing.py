"""OpenTelemetry spans, optional (the `otel` extra): with NEWSGRAPH_TRACING=otlp each request
is a server span exported over OTLP/HTTP to where the standard OTEL_EXPORTER_OTLP_* variables
say (service name from OTEL_SERVICE_NAME, default newsgraph). The span continues the caller's
`traceparent` and its id is the one the answer's `traceparent` names, so a trace runs from a
frontend through this service. Attributes carry what the log line does: route, status, the
GraphQL operation and engine, the caller's role, database time and statements.

Off (the default), or without the extra, nothing here runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.types import Scope

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import Span, Tracer

_tracer: Tracer | None = None


def check(setting: str) -> None:
    """Stop the start in one line when NEWSGRAPH_TRACING asks for what is not installed."""
    if setting != "otlp":
        return
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise SystemExit(
            "NEWSGRAPH_TRACING=otlp needs the otel extra: pip install 'newsgraph[otel]' "
            "(or set NEWSGRAPH_TRACING=off)"
        ) from None


def configure(setting: str) -> None:
    """Set tracing up for this process as NEWSGRAPH_TRACING says ("off" or "otlp")."""
    check(setting)
    if setting != "otlp" or _tracer is not None:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    use(BatchSpanProcessor(OTLPSpanExporter()))


def use(processor: SpanProcessor | None) -> None:
    """Send spans to `processor` (None: stop tracing). A provider of our own, not the global
    one, so that tests and embedding applications can swap it."""
    global _tracer
    if processor is None:
        _tracer = None
        return
    import os

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    name = os.environ.get("OTEL_SERVICE_NAME") or "newsgraph"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(processor)
    _tracer = provider.get_tracer("newsgraph")


def on() -> bool:
    """Whether requests are being traced."""
    return _tracer is not None


def start(scope: Scope, trace_id: str, parent_id: str | None, flags: str) -> Span | None:
    """A server span for this request, child of the caller's span when it sent one; None while
    tracing is off."""
    if _tracer is None:
        return None
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        SpanKind,
        TraceFlags,
        set_span_in_context,
    )

    parent = None
    if parent_id is not None:
        caller = SpanContext(
            int(trace_id, 16),
            int(parent_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(flags, 16)),
        )
        parent = set_span_in_context(NonRecordingSpan(caller))
    return _tracer.start_span(
        f"{scope['method']} {scope['path']}", context=parent, kind=SpanKind.SERVER
    )


def ids(span: Span) -> tuple[str, str]:
    """(trace id, span id) in traceparent's hex."""
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def finish(span: Span, route: str, fields: dict[str, Any]) -> None:
    """Name the span by its route and operation, set the request's figures on it, end it."""
    from opentelemetry.trace import Status, StatusCode

    operation = fields.get("operation")
    span.update_name(f"{fields['method']} {route}" + (f" {operation}" if operation else ""))
    attributes = {
        "http.request.method": fields["method"],
        "url.path": fields["path"],
        "http.route": route,
        "http.response.status_code": fields["status"],
        "graphql.operation.name": operation,
        "newsgraph.engine": fields.get("engine"),
        "newsgraph.role": fields.get("role"),
        "newsgraph.key_id": fields.get("key_id"),
        "newsgraph.request_id": fields["request_id"],
        "newsgraph.cache": fields.get("cache"),
        "db.statements": fields["statements"],
        "db.duration_ms": fields["db_ms"],
    }
    span.set_attributes({k: v for k, v in attributes.items() if v is not None})
    if fields["status"] >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
