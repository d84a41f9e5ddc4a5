-- Users, their memberships in organizations, and server-generated secrets.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    status         TEXT NOT NULL,
    is_super_admin BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- A user acts in one organization at a time, with one role there; partner_id ties an
-- EXTERNAL (portal) user to one business partner.
CREATE TABLE memberships (
    user_id    TEXT NOT NULL REFERENCES users (id),
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    role       TEXT NOT NULL,
    partner_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org ON memberships (org_id);

-- Secrets the server generates for itself in development (the JWT key), shared by every
-- instance on the same database.
CREATE TABLE instance_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
