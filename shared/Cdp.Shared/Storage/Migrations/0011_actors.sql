-- Who made each change (issue 9): the audit actor ("staff:<userid>", "key:<key_id>", "bootstrap", "system") on the
-- rows a person's request creates or settles. Null on rows older than this migration.
alter table follow_up add column created_by text;
alter table opportunity add column created_by text;
alter table identity_review add column resolved_by text;
-- created_by: who saved the change. acting_user_id: the WeCom userid the push acts as (a signed-in staff member
-- acts as themselves); null means the contact's first follower, as for API keys and admins without a staff id.
alter table sync_task
    add column created_by     text,
    add column acting_user_id text;
