-- Bulk first loads (POST /api/imports): a job, its staged rows (COPY'd from the streamed body) and its chunks. Each chunk
-- is one bulk-import topic message; a chunk's rows and counters change in the chunk's own transaction, so a redelivered
-- or resumed chunk does nothing twice.
create table import_job (
    import_id  uuid primary key,
    channel    text not null references channel,
    format     text not null,                     -- ndjson, csv
    state      text not null default 'staging',   -- staging, running (chunks queued), failed (staging refused); done is derived
    total      int not null default 0,
    chunks     int not null default 0,
    actor      text not null,
    error      text,
    created_at timestamptz not null default now(),
    staged_at  timestamptz
);
create index import_job_created_ix on import_job (created_at desc, import_id desc);

create table import_chunk (
    import_id  uuid not null references import_job on delete cascade,
    chunk      int not null,
    rows       int not null,
    state      text not null default 'queued',    -- queued, done, failed
    processed  int not null default 0,
    review     int not null default 0,
    rejected   int not null default 0,
    duplicate  int not null default 0,
    failed     int not null default 0,
    error      text,
    done_at    timestamptz,
    took_ms    double precision,                  -- the chunk's last handling, whole and by phase (./cdp bench import)
    read_ms    double precision,                  -- reading and cleansing
    receipt_ms double precision,                  -- receipts and row states
    resolve_ms double precision,                  -- identity resolution
    primary key (import_id, chunk)
);

-- One line (NDJSON) or record (CSV) of the body, as the record's JSON envelope; a line that could not even be read
-- keeps its reason in read_error instead. status: staged, accepted (receipt written, waiting for resolution),
-- processed, review, rejected, duplicate, failed.
create table import_row (
    import_id    uuid not null,
    line_no      int not null,
    chunk        int not null,
    payload      text,
    read_error   text,
    status       text not null default 'staged',
    ingestion_id uuid,
    errors       jsonb,
    primary key (import_id, line_no)
) with (autovacuum_vacuum_scale_factor = 0.05);
create index import_row_chunk_ix on import_row (import_id, chunk);
