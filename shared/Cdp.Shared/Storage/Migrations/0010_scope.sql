-- Whose customers a record is (API.md "Who may call what"): a salesperson sees the contacts they follow in WeCom,
-- the leads and contacts they own in the CRM or were given by a conversion, and the accounts of those contacts;
-- a manager sees what the staff of their department see. Rows are written in the transactions that create, merge
-- or convert the records (identity resolution, lead conversion) and removed by WeCom's del_* callbacks.
create table customer_owner (
    entity_type   text not null check (entity_type in ('lead', 'contact', 'account')),
    entity_id     uuid not null,
    staff_user_id text not null,      -- a WeCom userid (staff.user_id); the CRM's OwnerId is taken to be one
    source        text not null check (source in ('wecom_follow', 'crm_owner', 'conversion')),
    source_ref    text not null,      -- what says so: the WeCom external userid, "crm:<record id>", the converted lead id
    since         timestamptz not null,
    primary key (entity_type, entity_id, staff_user_id, source, source_ref)
);
-- Search starts from a salesperson's customers; callbacks and CRM updates replace the rows of one source record.
create index customer_owner_staff_ix on customer_owner (staff_user_id, entity_type, entity_id);
create index customer_owner_ref_ix on customer_owner (source, source_ref);

-- A manager's scope is the staff of their department.
create index staff_department_ix on staff (department) where department is not null;
