-- Unverified credit codes (issue 10): a code of the right shape whose GB 32100 check character does not verify is
-- kept (some codes from the first years are real yet fail it) and marked here. Such a code never merges accounts on
-- its own. Meaningful only where unified_social_credit_code is set; every code stored before this was verified.
alter table account add column credit_code_verified boolean not null default true;
