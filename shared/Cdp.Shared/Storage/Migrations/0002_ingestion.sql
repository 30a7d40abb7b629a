-- Every accepted channel payload, stored before we answer 202; the dedup keys make resends idempotent.
create table ingestion_receipt (
    ingestion_id   uuid primary key,
    channel        text not null references channel,
    source_id      text,
    source_version text,
    body_hash      text not null,
    payload        text not null,
    status         text not null default 'queued',   -- queued, processed, review, rejected, failed
    received_at    timestamptz not null default now(),
    cleansed_at    timestamptz,                      -- set when handed to identity resolution
    processed_at   timestamptz,
    entity_type    text,
    entity_id      uuid,
    review_id      uuid,
    errors         jsonb not null default '[]',
    account_id     uuid,      -- a contact's account, so a redelivery answers the outcome it first got
    entity_created boolean
);
create unique index ingestion_receipt_source_uk on ingestion_receipt (channel, source_id, source_version)
    where source_id is not null and source_version is not null;
create unique index ingestion_receipt_body_uk on ingestion_receipt (channel, body_hash);

-- Ambiguous matches wait here for a person; never auto-merged.
create table identity_review (
    review_id          uuid primary key,
    ingestion_id       uuid not null references ingestion_receipt,
    entity_type        text not null,
    record             jsonb not null,
    candidates         jsonb not null,
    status             text not null default 'open',   -- open, resolved
    decision           text,                           -- merge, create
    target_id          uuid,
    resolved_entity_id uuid,
    created_at         timestamptz not null default now(),
    resolved_at        timestamptz
);
create index identity_review_open_ix on identity_review (created_at) where status = 'open';
