-- Privacy (virtual) numbers, seed 002: pools per city, bindings with state and a version, call records.

-- The provider's number pools (Alibaba PoolKey) by city; a binding asks its city's pool first, then the others by priority.
create table virtual_number_pool (
    city       text primary key,
    pool_key   text not null,
    priority   int not null default 100
);

-- One binding per request id (two clicks give one binding). state: NOT_BIND -> OPERATION -> BIND (seed 002);
-- every transition checks and bumps version (optimistic concurrency).
create table virtual_binding (
    binding_id     uuid primary key,
    request_id     text not null unique,
    mode           text not null check (mode in ('AXB', 'XB')),
    state          text not null check (state in ('NOT_BIND', 'OPERATION', 'BIND')),
    version        int not null default 1,
    city           text,
    pool_key       text,
    provider       text,
    phone_a        text,
    phone_b        text not null,
    virtual_number text,
    subs_id        text,
    contact_id     uuid references contact on delete set null,
    staff_user_id  text,
    attempts       int not null default 0,
    failure_code   text,
    last_error     text,
    expires_at     timestamptz not null,
    bound_at       timestamptz,
    unbound_at     timestamptz,
    alerted_at     timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create index virtual_binding_number_ix on virtual_binding (virtual_number, created_at desc) where virtual_number is not null;
create index virtual_binding_subs_ix on virtual_binding (subs_id) where subs_id is not null;

-- Every number that arrived as X (SecretNo / secret_no): provenance says it is never anyone's identity (FACTS.md).
create table virtual_number_seen (
    number     text primary key,
    first_seen timestamptz not null default now()
);

-- Call records pushed by the provider, one per call_id (a resend is a no-op), and the touchpoint each became.
create table call_record (
    call_id       text primary key,
    binding_id    uuid,
    contact_id    uuid references contact on delete set null,
    touchpoint_id uuid,
    received_at   timestamptz not null default now()
);

-- The 'calls' channel row comes from the channel registry at start (Migrations.ApplyAsync).
