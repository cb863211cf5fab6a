-- Bland's batch API moved to v2 (issue 26). What the bot learned about the Bland it talks to, by asking
-- with a read that cannot dial: one row per fact (`batch_api` is "v1" or "v2"), with why and when.
CREATE TABLE bland_facts (
    key     TEXT    PRIMARY KEY,
    value   TEXT    NOT NULL,
    why     TEXT    NOT NULL,
    at      REAL    NOT NULL
);

-- Which batch API a request was sent with: a lost answer is looked up in that API's batch list.
ALTER TABLE batch_requests ADD COLUMN batch_api TEXT;

-- A v2 batch's calls as Bland's call list shows them, and (`detail`, once the call ended) the result row
-- read from the call itself: the summary and result file are built from here, so a restart resumes the
-- reading where it stopped and never reads a call twice. `claimed_until`: a replica is reading the call
-- until then (no other reads it meanwhile).
CREATE TABLE batch_calls (
    batch_id    TEXT    NOT NULL,
    call_id     TEXT    NOT NULL,
    ended       INTEGER NOT NULL DEFAULT 0,
    light       TEXT    NOT NULL,
    detail      TEXT,
    claimed_until REAL,
    at          REAL    NOT NULL,
    PRIMARY KEY (batch_id, call_id)
);
CREATE INDEX batch_calls_unread ON batch_calls (batch_id, ended, detail);
