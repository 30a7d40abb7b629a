-- Lead conversion (seed 003, flow 2).
-- The conversion run that converted the lead: a retried activity of that same run finds its own id here and answers
-- "converted", while any other run answers "already converted".
alter table lead add column conversion_id uuid;
-- The salesperson the conversion was done for (API: ownerId); told by the notification.
alter table lead add column converted_owner_id text;
alter table opportunity add column owner_id text;
-- A lead converts once, so it yields at most one opportunity; the lead's row lock already ensures it, this says so.
create unique index opportunity_lead_uk on opportunity (lead_id) where lead_id is not null;
create index lead_converted_contact_ix on lead (converted_contact_id) where converted_contact_id is not null;
