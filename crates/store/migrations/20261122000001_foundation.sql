-- Foundation: organizations, the event log with its per-organization hash chain, and
-- idempotency keys. Portable SQL: this one file runs on SQLite and on PostgreSQL.
-- Ids are UUID text, times are microseconds since the Unix epoch (BIGINT), amounts are
-- scaled integers (BIGINT): see docs/adr/0001-database-layer.md.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    legal_name    TEXT,
    tax_id        TEXT,
    base_currency TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    archived_at   BIGINT
);
CREATE UNIQUE INDEX organizations_name_key ON organizations (name_key);
CREATE INDEX organizations_status_id ON organizations (status, id);

-- The last event of each organization's chain; locked while appending (FOR UPDATE on
-- PostgreSQL, the database write lock on SQLite) so sequences are gap-free in commit order.
CREATE TABLE event_chain_heads (
    org_id    TEXT PRIMARY KEY,
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

CREATE TABLE events (
    org_id         TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    request_id     TEXT,
    occurred_at    BIGINT NOT NULL,
    data           TEXT NOT NULL,
    changes        TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX events_aggregate ON events (aggregate_type, aggregate_id, seq);
CREATE INDEX events_kind ON events (org_id, kind, seq);

-- The first response to each Idempotency-Key, written in the same transaction as the change.
CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      BIGINT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
