-- Seed 000: what staff change in the sales sidebar, and the sync tasks that push it to WeCom / finance / CRM.
create table customer_tag (
    contact_id uuid not null references contact on delete cascade,
    tag        text not null,
    created_at timestamptz not null default now(),
    primary key (contact_id, tag)
);

create table follow_up (
    follow_up_id uuid primary key,
    contact_id   uuid not null references contact on delete cascade,
    content      text not null,
    channel      text,
    occurred_at  timestamptz not null,
    created_at   timestamptz not null default now()
);
create index follow_up_contact_ix on follow_up (contact_id, occurred_at desc);

create table sync_task (
    sync_task_id    uuid primary key,
    target          text not null,      -- wecom_tags, wecom_follow_up, finance, ...
    entity_type     text not null,
    entity_id       uuid not null,
    change_seq      bigint not null,    -- newer change of one entity+target has the higher number
    payload         jsonb not null,
    status          text not null default 'pending',   -- pending, retrying, succeeded, failed
    attempts        int not null default 0,
    last_error      text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    next_attempt_at timestamptz,
    completed_at    timestamptz
);
create index sync_task_status_ix on sync_task (status, updated_at);
create index sync_task_entity_ix on sync_task (target, entity_id, change_seq desc);
create sequence sync_task_change_seq;

-- Seed 002: privacy (virtual) number bindings.
create table virtual_number_binding (
    binding_id     uuid primary key,
    virtual_number text not null,
    mode           text not null,       -- XB, AXB
    number_a       text,
    number_b       text not null,
    city           text not null,
    state          text not null,       -- NOT_BIND, OPERATION, BIND
    attempts       int not null default 0,
    last_error     text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create unique index virtual_number_active_uk on virtual_number_binding (virtual_number) where state <> 'NOT_BIND';
