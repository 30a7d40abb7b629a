-- Operations (issue 11): what the hosts measure that no stored row shows, alerts, heartbeats, sent notifications.

-- Per-minute rollup written by every host (its in-process aggregates, flushed every few seconds by adding): 360 view
-- latency and cache hits, summary lag, backlog samples. Histograms are counts per bucket of OpsHistogram.Bounds.
create table ops_minute (
    metric    text not null,
    dimension text not null default '',
    minute    timestamptz not null,
    count     bigint not null default 0,
    sum       double precision not null default 0,
    max       double precision not null default 0,
    buckets   bigint[] not null default '{}',
    primary key (metric, dimension, minute)
);
create index ops_minute_minute_ix on ops_minute (minute);

-- Each host renews its row; a row neither renewed nor stopped is a host that died ("service down").
create table ops_heartbeat (
    host_id    text primary key,
    started_at timestamptz not null default now(),
    renewed_at timestamptz not null default now(),
    stopped_at timestamptz
);

-- Health probes of the dependencies, as the alert evaluation sees them: how many checks in a row failed.
create table ops_dependency (
    name             text primary key,
    failures_in_row  int not null default 0,
    failing_since    timestamptz,
    checked_at       timestamptz not null default now(),
    detail           text
);

-- Alert history: one row per firing of a rule; at most one open per rule.
create table ops_alert (
    alert_id               bigint generated always as identity primary key,
    rule                   text not null,
    level                  text not null,
    value                  double precision not null,
    threshold              double precision not null,
    detail                 text,
    opened_at              timestamptz not null default now(),
    last_value             double precision not null,
    resolved_at            timestamptz,
    notified_at            timestamptz,
    resolution_notified_at timestamptz
);
create unique index ops_alert_open_uk on ops_alert (rule) where resolved_at is null;
create index ops_alert_opened_ix on ops_alert (opened_at desc);

-- Notifications sent to staff (the notification topic's consumer): a redelivered message is not sent twice.
create table notification_sent (
    notification_key text primary key,
    recipients       text not null,
    sent_at          timestamptz not null default now()
);

-- The overview's per-minute series and the failure-rate rule read the recent receipts through
-- ingestion_receipt_received_ix (0016: received_at desc, ingestion_id desc).
