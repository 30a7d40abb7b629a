-- Throughput (issue 14): the fuzzy account rule searches account_name_short_trgm_ix for nearly every account-resolving
-- record that no exact rule matched, while the same resolution inserts accounts and rewrites them. With GIN's fast
-- update, those entries wait in the index's pending list, and every search reads the whole list: auto_explain on the
-- import bench showed the index scan at ~1.1 ms per lookup (44 buffers) mid-import against ~0.05 ms (25 buffers) once
-- the list was merged. Without the pending list an account's insert pays for its ~10 trigram entries at once (accounts
-- are the rarest entity) and every search reads only the tree.
alter index account_name_short_trgm_ix set (fastupdate = off);
select gin_clean_pending_list('account_name_short_trgm_ix'::regclass);
