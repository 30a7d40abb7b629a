-- Seed 000: sync-then-retry bookkeeping on top of 0004's sync_task.
-- generation: bumped when a person re-drives a failed task, so a run's alert is keyed apart from the next run's.
-- note: why a task finished the way it did (superseded, nothing to push, ...), shown by GET /api/sync-tasks/{id}.
alter table sync_task
    add column generation int not null default 0,
    add column note       text;
create index sync_task_created_ix on sync_task (created_at desc);

-- One row per failed run that asked for an alert; the rate limit counts the 'sent' rows of the last minute across
-- every host. 'suppressed' rows are summarised in the next alert that goes out.
create table sync_alert (
    sync_task_id uuid not null references sync_task on delete cascade,
    generation   int not null,
    status       text not null,          -- sent, suppressed, unsent (post failed), logged (no webhook configured)
    created_at   timestamptz not null default now(),
    sent_at      timestamptz,
    summarised   boolean not null default false,
    primary key (sync_task_id, generation)
);
create index sync_alert_sent_ix on sync_alert (sent_at) where status = 'sent';
create index sync_alert_suppressed_ix on sync_alert (created_at) where status = 'suppressed' and not summarised;
