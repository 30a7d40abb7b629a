-- Summaries, lead scoring and rule-based tags (seed 003, flow 3).
-- Tags the rules compute with each summary. Kept apart from customer_tag, which holds the tags staff set (and which
-- the sidebar syncs to WeCom): a recomputation replaces an entity's computed tags and never touches a staff tag.
create table computed_tag (
    entity_type text not null,    -- account, contact, lead
    entity_id   uuid not null,
    tag         text not null,
    reason      text not null,
    computed_at timestamptz not null default now(),
    primary key (entity_type, entity_id, tag)
);
-- A lead's total_events counts the channel records resolved to it.
create index ingestion_receipt_entity_ix on ingestion_receipt (entity_id) where entity_id is not null;
