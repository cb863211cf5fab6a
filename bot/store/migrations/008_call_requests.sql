-- A call the bot is placing, written before POST /v1/calls: a process killed before it recorded Bland's
-- answer leaves the row in `sending`, and the next one looks for the call in Bland (by the request id in
-- its metadata) instead of losing it or dialling again.
CREATE TABLE call_requests (
    id          TEXT    PRIMARY KEY,
    requester   TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    to_number   TEXT    NOT NULL,
    data        TEXT    NOT NULL DEFAULT '{}',
    state       TEXT    NOT NULL DEFAULT 'sending',
    call_id     TEXT,
    checks      INTEGER NOT NULL DEFAULT 0,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL
);
CREATE INDEX call_requests_state ON call_requests (state, updated_at);
