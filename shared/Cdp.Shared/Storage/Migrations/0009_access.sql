-- Who may do what (API.md "Who may call what"): staff signed in through WeCom, API keys for machines and the
-- events SDK, and the append-only audit trail.

create table staff (
    user_id     text primary key,                 -- the WeCom userid
    name        text,
    department  text,
    roles       text[] not null default '{}',     -- a member nobody granted has no role
    mobile      text,                             -- the member's own mobile (B of privacy-number calls), set by an admin
    active      boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table api_key (
    key_id          text primary key,             -- the public part of the key ("cdp_<key_id>_<secret>")
    key_hash        bytea not null,               -- SHA-256 of the whole key; the key itself is shown once
    name            text not null,
    kind            text not null check (kind in ('secret', 'publishable')),
    permissions     text[] not null,
    allowed_origins text[] not null default '{}', -- publishable keys: the website origins that may use it
    created_by      text not null,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz
);

create table audit_log (
    audit_id    bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    actor       text not null,                    -- "staff:<userid>", "key:<key_id>", "bootstrap", "system"
    action      text not null,                    -- e.g. "contact.tags.save", "pii.reveal", "apikey.create"
    entity_type text,
    entity_id   text,
    request_id  text,
    ip          text,
    user_agent  text,
    detail      jsonb                              -- never PII: field names, counts, outcomes
);
create index audit_log_actor on audit_log (actor, occurred_at desc);
create index audit_log_entity on audit_log (entity_id, occurred_at desc);
create index audit_log_action on audit_log (action, occurred_at desc);

-- Append-only: nothing updates or deletes an audit row (retention, when it comes, is a partition drop by an owner).
create function audit_log_is_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only';
end $$;
create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_is_append_only();
