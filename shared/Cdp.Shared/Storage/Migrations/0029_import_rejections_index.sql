-- Throughput (issue 14): an import's status shows its first rejected lines. Found through the primary key with the
-- status as a filter, that read visited every line up to the twentieth rejection (~1,600 buffers, 10-16 ms at 60,000
-- lines; 4 % of Postgres's time on the import bench, which polls the status 4 times a second). A partial index holds
-- only the rejected lines. It costs no HOT update: a line's status changes 2-3 times and those updates were already
-- non-HOT (the lines are COPY'd into full pages: 2,564 of 87,263 updates HOT on the bench), and a line enters this
-- index only when it becomes 'rejected'.
create index import_row_rejected_ix on import_row (import_id, line_no) where status = 'rejected';
