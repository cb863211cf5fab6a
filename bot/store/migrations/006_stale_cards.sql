-- An approval card whose chat.update failed: the housekeeping chore renders it again from the stored state.
ALTER TABLE batch_requests ADD COLUMN card_stale INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batch_requests_card_stale ON batch_requests (card_stale) WHERE card_stale = 1;
