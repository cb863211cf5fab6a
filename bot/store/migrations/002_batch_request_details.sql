-- What a batch request list shows without parsing payloads, and the reconciliation counter.
ALTER TABLE batch_requests ADD COLUMN label TEXT;
ALTER TABLE batch_requests ADD COLUMN call_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_requests ADD COLUMN note TEXT;
ALTER TABLE batch_requests ADD COLUMN decided_at REAL;
ALTER TABLE batch_requests ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batch_requests_created ON batch_requests (created_at);
