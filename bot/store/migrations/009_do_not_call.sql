-- Numbers never to be dialled (E.164), with why, where the entry came from and who added it.
CREATE TABLE do_not_call (
    number      TEXT    PRIMARY KEY,
    reason      TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL,
    added_by    TEXT    NOT NULL,
    added_at    REAL    NOT NULL
);
CREATE INDEX do_not_call_added ON do_not_call (added_at);

-- A batch request's rows left out because their numbers were on the list: masked, for its approval card.
ALTER TABLE batch_requests ADD COLUMN excluded TEXT NOT NULL DEFAULT '[]';

-- When a pending request's approvers were reminded, and its requester warned that it expires soon.
ALTER TABLE batch_requests ADD COLUMN reminded_at REAL;
ALTER TABLE batch_requests ADD COLUMN warned_at REAL;

-- A call scheduled for the callee's calling hours is placed at send_at.
ALTER TABLE call_requests ADD COLUMN send_at REAL;
CREATE INDEX call_requests_due ON call_requests (state, send_at);

-- Calling hours for a batch: its rows outside them when requested, and, once approved, when it goes out
-- (every callee inside hours); NULL: at once.
ALTER TABLE batch_requests ADD COLUMN outside_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_requests ADD COLUMN send_at REAL;

-- Periodic work done once (a day's digest): the first to insert its name does it.
CREATE TABLE chore_runs (
    name    TEXT    PRIMARY KEY,
    at      REAL    NOT NULL
);

-- When the requester asked the batch to start (part of what is approved); NULL: once approved.
ALTER TABLE batch_requests ADD COLUMN start_at REAL;
