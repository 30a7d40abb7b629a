-- PIPL (issue 10). A raw channel payload past Retention:RawPayloadDays keeps only its hash and outcome: the body_hash
-- unique index still answers a resend as a duplicate. Erasure requests are rows, so an erase survives a restart.
alter table ingestion_receipt alter column payload drop not null;
alter table ingestion_receipt add column payload_dropped_at timestamptz;
create index ingestion_receipt_payload_age_ix on ingestion_receipt (received_at) where payload is not null;
create index identity_review_resolved_ix on identity_review (resolved_at) where status = 'resolved';

create table privacy_request (
    request_id   uuid primary key,
    kind         text not null check (kind in ('erase')),
    subject_hash text not null,                     -- keyed hash of the subject (as the audit rows name it)
    mobile       text,                              -- the subject, held only until the erasure completes
    email        text,
    reason       text not null,
    status       text not null default 'pending',   -- pending, running, completed, failed
    progress     jsonb not null default '{}',       -- steps done, counts, the erased entity ids (never personal data)
    attempts     int not null default 0,
    last_error   text,
    requested_by text not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    completed_at timestamptz
);
create index privacy_request_open_ix on privacy_request (updated_at) where status in ('pending', 'running', 'failed');
