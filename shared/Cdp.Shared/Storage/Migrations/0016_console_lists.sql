-- The console's lists (GET /api/ingestions, GET /api/orchestrations) read newest first with a keyset cursor; these
-- serve that order. None covers a column the pipeline updates, so status changes stay HOT updates.
create index ingestion_receipt_received_ix on ingestion_receipt (received_at desc, ingestion_id desc);
-- "By source id": the CRM/ERP record id, the WeChat openId, the WeCom external userid.
create index ingestion_receipt_source_ix on ingestion_receipt (source_id) where source_id is not null;
create index orchestration_instance_created_ix on orchestration_instance (created_at desc, instance_id desc);
