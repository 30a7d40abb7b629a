-- Customer views: a contact's 360 lists the leads converted into it, and a staff-tag change reaches the views of
-- those leads (their tags are the contact's).
create index lead_converted_contact_ix on lead (converted_contact_id) where converted_contact_id is not null;
