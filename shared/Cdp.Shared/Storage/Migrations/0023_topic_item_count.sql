-- Throughput (issue 14): an accepted POST /api/events becomes one event-stream message holding all its events (a
-- JSON array of ClickHouse rows) instead of one message per event. The ClickHouse writer fills its inserts by rows,
-- not messages, so a message says how many items it carries. Every other message carries one. A constant default:
-- adding it rewrites nothing.
alter table topic_message add column item_count int not null default 1;
