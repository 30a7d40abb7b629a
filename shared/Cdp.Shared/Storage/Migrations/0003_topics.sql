-- Durable topics (Kafka's role locally). A row is a message; it is deleted once handled, so the table holds
-- only the backlog and the dead letters. Publishing is an insert in the caller's own transaction (outbox).
create table topic_message (
    message_id   bigint generated always as identity primary key,
    topic        text not null,
    message_key  text not null,            -- order holds per (topic, key)
    payload      jsonb not null,
    created_at   timestamptz not null default now(),
    available_at timestamptz not null default now(),   -- retry backoff pushes this forward
    attempts     int not null default 0,
    lease_owner  text,
    lease_until  timestamptz,
    status       text not null default 'pending',      -- pending, dead
    last_error   text,
    dead_at      timestamptz
) with (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02); -- a churning queue: keep dead tuples and stats in check
-- Claim window: the oldest pending rows of a topic, index-only (the key is included for the head check).
create index topic_message_ready_ix on topic_message (topic, message_id) include (message_key) where status = 'pending';
-- Head check ("is there an earlier pending message of this key?") and the skip scan over keys.
create index topic_message_key_ix on topic_message (topic, message_key, message_id) where status = 'pending';
create index topic_message_dead_ix on topic_message (topic, dead_at) where status = 'dead';
