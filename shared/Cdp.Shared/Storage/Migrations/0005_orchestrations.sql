-- The local durable orchestration engine (Durable Functions' role on one machine). An instance's history is
-- append-only and is the truth its orchestrator replays against; work rows are the engine's queue.
create table orchestration_instance (
    instance_id        text primary key,
    name               text not null,
    status             text not null,              -- Pending, Running, Completed, Failed, Terminated
    input              jsonb,
    output             jsonb,
    custom_status      jsonb,
    error_type         text,
    error_message      text,
    parent_instance_id text,                       -- set for a sub-orchestration: its end is appended there
    parent_seq         int,
    replayed_upto      bigint not null default 0,  -- history events an episode has already seen (IsReplaying)
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    completed_at       timestamptz
);
create index orchestration_instance_purge_ix on orchestration_instance (completed_at)
    where status in ('Completed', 'Failed', 'Terminated');

create table orchestration_history (
    event_id    bigint generated always as identity primary key,
    instance_id text not null references orchestration_instance on delete cascade,
    kind        text not null,   -- Started, ActivityScheduled, ActivityCompleted, ActivityFailed, TimerCreated, TimerFired,
                                 -- SubOrchestrationScheduled, SubOrchestrationCompleted, SubOrchestrationFailed, EventRaised, Terminated
    seq         int,             -- the orchestrator call it belongs to (null for Started, EventRaised, Terminated)
    name        text,            -- activity / sub-orchestration / event name; child instance id in child_id
    child_id    text,
    payload     jsonb,           -- input, result or event data
    error_type  text,
    error_message text,
    fire_at     timestamptz,     -- TimerCreated
    created_at  timestamptz not null default now()
);
create index orchestration_history_instance_ix on orchestration_history (instance_id, event_id);

-- Queue. 'orchestrator': the instance has events its code has not seen (one row per instance, so one episode at a
-- time; generation counts pokes so an event arriving mid-episode runs another). 'activity': one attempt of a call.
-- 'timer': appends TimerFired at visible_at (durable timers and retry delays are rows, so they survive restarts).
create table orchestration_work (
    work_id     bigint generated always as identity primary key,
    instance_id text not null references orchestration_instance on delete cascade,
    kind        text not null,
    name        text,
    seq         int,
    input       jsonb,
    generation  int not null default 0,
    visible_at  timestamptz not null default now(),
    lease_owner text,
    lease_until timestamptz,
    created_at  timestamptz not null default now()
) with (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
create unique index orchestration_work_orchestrator_ux on orchestration_work (instance_id) where kind = 'orchestrator';
create index orchestration_work_ready_ix on orchestration_work (visible_at) where kind in ('orchestrator', 'activity');
create index orchestration_work_timer_ix on orchestration_work (visible_at) where kind = 'timer';
create index orchestration_work_instance_ix on orchestration_work (instance_id);
