-- Phone numbers by the numbering plan (issue 10): only a person's mobile stays in mobile_phone (an identity key;
-- mainland as 11 digits, foreign as E.164). A landline, 400/800/95, data-only or unallocated number from a mobile
-- field is kept in phone, typed in phone_type (landline, shared_cost, toll_free, service, data_only, unallocated,
-- mobile); null where the phone is free text the plan does not recognise. Leads had no phone until now.
alter table lead add column phone text;
alter table lead add column phone_type text;
alter table contact add column phone_type text;

-- Per field, the channel its value came from ({"lead_name":"crm","email":"wechat"}), beside field_times: a visitor
-- typing into a WeChat form may fill empty fields but never overwrite what CRM, ERP or WeCom said. Values held
-- before this have no source and count as a system's.
alter table lead add column field_sources jsonb not null default '{}';
alter table contact add column field_sources jsonb not null default '{}';
