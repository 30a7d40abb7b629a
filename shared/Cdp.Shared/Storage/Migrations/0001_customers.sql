-- Seed 003's entities. Ids are uuids chosen by the application; shard_id is kept so the schema can be
-- distributed later (Citus) by account_id / contact_id without a rewrite.
create extension if not exists pg_trgm;

create table channel (
    channel_id   text primary key,
    channel_name text not null,
    channel_type text not null
);
insert into channel (channel_id, channel_name, channel_type) values
    ('crm', 'CRM', 'crm'),
    ('wecom', '企业微信', 'wecom'),
    ('wechat', '微信公众号', 'wechat'),
    ('erp', 'ERP', 'erp'),
    ('sdk', 'Web/Mobile SDK', 'sdk'),
    ('sidebar', '销售侧边栏', 'internal');

create table campaign (
    campaign_id   text primary key,
    campaign_name text,
    channel_id    text references channel,
    created_at    timestamptz not null default now()
);

create table account (
    account_id                 uuid primary key,
    account_name               text not null,
    name_normalized            text not null,   -- exact-match key (full legal name, normalised)
    name_short                 text not null,   -- fuzzy-match key (no city prefix, brackets or legal suffix)
    unified_social_credit_code text,
    city                       text,
    account_type               text,
    account_status             text not null default 'active',
    shard_id                   smallint not null,
    field_times                jsonb not null default '{}',  -- per field: when the value we hold was true at its source
    created_at                 timestamptz not null default now(),
    updated_at                 timestamptz not null default now()
);
create unique index account_credit_code_uk on account (unified_social_credit_code)
    where unified_social_credit_code is not null;
create index account_name_normalized_ix on account (name_normalized);
create index account_name_short_trgm_ix on account using gin (name_short gin_trgm_ops);
create index account_name_trgm_ix on account using gin (account_name gin_trgm_ops);
-- The fuzzy short-name rule only compares accounts of one city.
create index account_city_ix on account (city) where city is not null;

create table account_summary (
    summary_id          uuid primary key default gen_random_uuid(),
    account_id          uuid not null unique references account on delete cascade,
    total_contacts      int not null default 0,
    total_opportunities int not null default 0,
    won_opportunities   int not null default 0,
    lost_opportunities  int not null default 0,
    total_revenue       numeric(18, 2) not null default 0,
    win_rate            numeric(5, 4),
    health_score        int not null default 0,
    last_activity_at    timestamptz,
    calculated_at       timestamptz not null default now()
);

create table account_channel_identity (
    identity_id        uuid primary key default gen_random_uuid(),
    account_id         uuid not null references account on delete cascade,
    channel_id         text not null references channel,
    channel_account_id text not null,
    is_verified        boolean not null default false,
    first_seen_at      timestamptz not null,
    last_seen_at       timestamptz not null,
    unique (channel_id, channel_account_id)
);
create index account_channel_identity_account_ix on account_channel_identity (account_id);

create table contact (
    contact_id             uuid primary key,
    contact_name           text,
    mobile_phone           text,   -- canonical 11-digit mainland mobile
    email                  text,   -- case-folded
    wechat_id              text,   -- WeChat unionid when known
    wecom_external_user_id text,
    title                  text,
    city                   text,
    phone                  text,
    primary_account_id     uuid references account,
    shard_id               smallint not null,
    field_times            jsonb not null default '{}',
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now()
);
create unique index contact_mobile_uk on contact (mobile_phone) where mobile_phone is not null;
create unique index contact_email_uk on contact (email) where email is not null;
create unique index contact_wecom_uk on contact (wecom_external_user_id) where wecom_external_user_id is not null;
create index contact_primary_account_ix on contact (primary_account_id);
create index contact_name_trgm_ix on contact using gin (contact_name gin_trgm_ops);

create table contact_summary (
    summary_id        uuid primary key default gen_random_uuid(),
    contact_id        uuid not null unique references contact on delete cascade,
    total_touchpoints int not null default 0,
    email_opens       int not null default 0,
    form_submissions  int not null default 0,
    engagement_score  int not null default 0,
    last_activity_at  timestamptz,
    calculated_at     timestamptz not null default now()
);

create table contact_channel_identity (
    identity_id     uuid primary key default gen_random_uuid(),
    contact_id      uuid not null references contact on delete cascade,
    channel_id      text not null references channel,
    channel_user_id text not null,
    identity_type   text not null,   -- source_record, wecom_external_user, wechat_openid, wechat_unionid
    is_verified     boolean not null default false,
    first_seen_at   timestamptz not null,
    last_seen_at    timestamptz not null,
    unique (channel_id, identity_type, channel_user_id)
);
create index contact_channel_identity_contact_ix on contact_channel_identity (contact_id);

create table account_contact_relation (
    relation_id        uuid primary key default gen_random_uuid(),
    account_id         uuid not null references account on delete cascade,
    contact_id         uuid not null references contact on delete cascade,
    role_in_account    text,
    decision_level     text,
    is_primary_contact boolean not null default false,
    created_at         timestamptz not null default now(),
    unique (account_id, contact_id)
);
create index account_contact_relation_contact_ix on account_contact_relation (contact_id);

create table lead (
    lead_id                  uuid primary key,
    lead_name                text,
    company_name             text,
    mobile_phone             text,
    email                    text,
    title                    text,
    city                     text,
    channel_id               text references channel,
    campaign_id              text,
    lead_source              text,
    lead_status              text not null default 'new',   -- new, working, converted, disqualified
    lead_score               int,
    lead_grade               text,
    score_reasons            jsonb,
    shard_id                 smallint not null,
    field_times              jsonb not null default '{}',
    created_at               timestamptz not null default now(),
    updated_at               timestamptz not null default now(),
    converted_at             timestamptz,
    converted_contact_id     uuid references contact,
    converted_account_id     uuid references account,
    converted_opportunity_id uuid
);
create index lead_mobile_ix on lead (mobile_phone) where mobile_phone is not null;
create index lead_email_ix on lead (email) where email is not null;
create index lead_name_trgm_ix on lead using gin (lead_name gin_trgm_ops);

create table lead_summary (
    summary_id        uuid primary key default gen_random_uuid(),
    lead_id           uuid not null unique references lead on delete cascade,
    total_touchpoints int not null default 0,
    total_events      int not null default 0,
    form_submissions  int not null default 0,
    days_in_pipeline  int not null default 0,
    last_activity_at  timestamptz,
    calculated_at     timestamptz not null default now()
);

create table lead_channel_identity (
    identity_id     uuid primary key default gen_random_uuid(),
    lead_id         uuid not null references lead on delete cascade,
    channel_id      text not null references channel,
    channel_user_id text not null,
    identity_type   text not null,
    captured_at     timestamptz not null,
    last_seen_at    timestamptz not null,
    utm_source      text,
    utm_campaign    text,
    unique (channel_id, identity_type, channel_user_id)
);
create index lead_channel_identity_lead_ix on lead_channel_identity (lead_id);
-- Identity resolution looks a unionId/openId up whichever channel captured it.
create index lead_channel_identity_user_ix on lead_channel_identity (identity_type, channel_user_id);

create table opportunity (
    opportunity_id   uuid primary key,
    account_id       uuid not null references account,
    contact_id       uuid references contact,
    lead_id          uuid references lead,
    opportunity_name text not null,
    amount           numeric(18, 2) not null default 0,
    stage            text not null,
    is_closed        boolean not null default false,
    is_won           boolean not null default false,
    closed_at        timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index opportunity_account_ix on opportunity (account_id, created_at desc);

create table touchpoint (
    touchpoint_id   uuid primary key,
    contact_id      uuid references contact on delete cascade,
    lead_id         uuid references lead on delete cascade,
    account_id      uuid references account on delete cascade,
    channel_id      text not null references channel,
    touchpoint_time timestamptz not null,
    touchpoint_type text not null,
    details         jsonb
);
create index touchpoint_contact_ix on touchpoint (contact_id, touchpoint_time desc);
create index touchpoint_account_ix on touchpoint (account_id, touchpoint_time desc);
create index touchpoint_lead_ix on touchpoint (lead_id, touchpoint_time desc);
