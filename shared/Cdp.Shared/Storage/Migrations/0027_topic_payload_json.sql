-- Throughput (issue 14): topic payloads are written once and read back whole as text; no query looks inside them on a
-- hot path. As jsonb, Postgres parsed every payload into its binary form (sorting each object's keys) and printed it
-- back to text for every claim: for a 1000-event event-stream message that was most of Postgres's CPU on the events
-- bench (perf: json_lex, jsonb building, escape_json, appendStringInfoChar). json only checks the text and stores it
-- as sent. The one statement that looks inside payloads (an erasure's rewrite of queued event arrays) uses the json functions.
alter table topic_message alter column payload type json using payload::json;

-- A type change may reset the column's compression: keep lz4 (0026).
do $$
begin
    alter table topic_message alter column payload set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
    raise notice 'lz4 is not available; topic_message.payload keeps the default compression';
end $$;
