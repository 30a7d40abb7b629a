-- Telemetry (issue 11): the W3C trace context of whoever published a message, so the consumer's span continues the
-- publisher's trace (webhook -> topic -> handler -> identity resolution -> summary). Null when telemetry is off or the
-- publisher was not traced. Nullable and without a default: adding it rewrites nothing.
alter table topic_message add column traceparent text;
