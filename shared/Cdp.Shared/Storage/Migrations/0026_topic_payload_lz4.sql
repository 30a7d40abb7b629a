-- Throughput (issue 14): an event-stream message holds a whole request's events (~0.4 MB of jsonb per 1000), which
-- Postgres compresses when it stores it; with the default pglz that compression cost more than parsing the jsonb
-- (measured: ~8 ms of ~13 ms per 1000-event message; lz4 ~1 ms, similar size). Applies to values written from now
-- on; older ones stay readable as they are. Small payloads (every other topic's) are not compressed either way. A
-- server built without lz4 keeps pglz.
do $$
begin
    alter table topic_message alter column payload set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
    raise notice 'lz4 is not available; topic_message.payload keeps the default compression';
end $$;
