-- Bursts (issue 31). A card's queued state says whether it is the card's final state (a call that ended, a
-- decision, a batch's end): final states spend Slack's chat.update budget before any passing state does.
-- Rows queued before this migration count as final, so none of them is held back.
ALTER TABLE outbox ADD COLUMN final INTEGER NOT NULL DEFAULT 1;
-- A person's direct messages that go out together as one: each names the first of them (whose key the
-- combined message carries), fixed before it is sent, so a retry after a crash sends the same ones again.
ALTER TABLE outbox ADD COLUMN merged_into INTEGER;
CREATE INDEX outbox_waiting_final ON outbox (op, final, state);
-- The tick's sweep reads only ids, states and due times of a kind's live rows.
CREATE INDEX tracked_kind_state ON tracked (kind, state);
