-- The durable outbox: every Slack write that matters is a row here, written in the same transaction as the
-- state change that causes it, and delivered by the worker (bot/outbox.py). `thread_of` names the card a
-- message is threaded under (or, for an update, the card it edits): it waits until that card is posted.
-- Rows of one `grp` (a card's thread) go out in id order. Updates of one card share one row: the latest
-- state replaces the queued one (`version` tells the worker a newer state arrived while it was sending).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    op              TEXT    NOT NULL CHECK (op IN ('post', 'update', 'upload')),
    grp             TEXT,
    thread_of       TEXT,
    link_card       TEXT,
    link_channel    TEXT,
    topic           TEXT,
    payload         TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL,
    last_error      TEXT,
    ts              TEXT,
    created_at      REAL    NOT NULL,
    expires_at      REAL    NOT NULL,
    UNIQUE (key, channel)
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_grp ON outbox (grp, state);
