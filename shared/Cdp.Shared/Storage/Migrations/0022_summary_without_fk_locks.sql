-- Throughput (issue 14): a summary upsert's foreign key took FOR KEY SHARE on its account/contact/lead, which waits
-- for an identity-resolution batch holding FOR UPDATE on those rows (~1 s each; pg_stat_activity showed the summary
-- inserts in Lock/transactionid). The summaries keep their integrity another way, without touching the entity row:
-- deleting an entity deletes its summary (a trigger, as the cascade did), and the delete and a summary computation
-- meet on an advisory lock (classid 2201, hashtext of the id): the computation holds it shared from before it reads
-- the entity to its commit, the delete takes it exclusively before it deletes the summary. So a delete either waits
-- for a computation and then deletes the row it wrote, or a computation starting after the delete no longer finds
-- the entity and writes nothing. A computation that cannot take it shared (a delete is under way) skips the entity.
alter table account_summary drop constraint account_summary_account_id_fkey;
alter table contact_summary drop constraint contact_summary_contact_id_fkey;
alter table lead_summary drop constraint lead_summary_lead_id_fkey;

create function summary_follow_delete() returns trigger language plpgsql as $$
begin
    if tg_table_name = 'account' then
        perform pg_advisory_xact_lock(2201, hashtext(old.account_id::text));
        delete from account_summary where account_id = old.account_id;
    elsif tg_table_name = 'contact' then
        perform pg_advisory_xact_lock(2201, hashtext(old.contact_id::text));
        delete from contact_summary where contact_id = old.contact_id;
    else
        perform pg_advisory_xact_lock(2201, hashtext(old.lead_id::text));
        delete from lead_summary where lead_id = old.lead_id;
    end if;
    return null;
end $$;

create trigger account_summary_follows after delete on account for each row execute function summary_follow_delete();
create trigger contact_summary_follows after delete on contact for each row execute function summary_follow_delete();
create trigger lead_summary_follows after delete on lead for each row execute function summary_follow_delete();
