-- Everything the bot owes a person, so a restart loses nothing and posts nothing twice.

CREATE TABLE tracked (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('call', 'batch', 'backfill')),
    external_id     TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    thread_ts       TEXT,
    card_ts         TEXT,
    state           TEXT    NOT NULL DEFAULT 'active',
    last_status     TEXT,
    data            TEXT    NOT NULL DEFAULT '{}',
    next_poll_at    REAL    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    card_updated_at REAL,
    created_by      TEXT,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL,
    UNIQUE (kind, external_id, channel)
);
CREATE INDEX tracked_due ON tracked (state, next_poll_at);
CREATE INDEX tracked_external ON tracked (kind, external_id);

CREATE TABLE batch_requests (
    id           TEXT    PRIMARY KEY,
    payload      TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    requester    TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    card_channel TEXT,
    card_ts      TEXT,
    approver     TEXT,
    state        TEXT    NOT NULL DEFAULT 'pending',
    batch_id     TEXT,
    reason       TEXT,
    expires_at   REAL    NOT NULL,
    created_at   REAL    NOT NULL,
    updated_at   REAL    NOT NULL
);
CREATE INDEX batch_requests_state ON batch_requests (state, expires_at);

CREATE TABLE notifications (
    event_key  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    ts         TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (event_key, channel)
);

CREATE TABLE subscriptions (
    channel    TEXT NOT NULL,
    topic      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (channel, topic)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          REAL NOT NULL,
    actor       TEXT NOT NULL,
    channel     TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    fingerprint TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
