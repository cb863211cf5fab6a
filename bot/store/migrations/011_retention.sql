-- Retention (bot/flows/retention.py): when a finished row lost what is personal in it.
ALTER TABLE tracked ADD COLUMN scrubbed_at REAL;
ALTER TABLE batch_requests ADD COLUMN scrubbed_at REAL;
ALTER TABLE call_requests ADD COLUMN scrubbed_at REAL;

-- What the retention job looks for: rows by age.
CREATE INDEX tracked_updated ON tracked (updated_at) WHERE scrubbed_at IS NULL;
CREATE INDEX batch_requests_updated ON batch_requests (updated_at) WHERE scrubbed_at IS NULL;
CREATE INDEX call_requests_updated ON call_requests (updated_at) WHERE scrubbed_at IS NULL;
CREATE INDEX tracked_age ON tracked (created_at);
CREATE INDEX call_requests_age ON call_requests (created_at);
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX outbox_created ON outbox (created_at);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
