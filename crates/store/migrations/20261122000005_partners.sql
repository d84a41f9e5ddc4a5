-- Business partners (customers and vendors) of an organization. Contacts and addresses are
-- part of the partner aggregate, versioned with it, and stored as JSON text.

CREATE TABLE partners (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id),
    name               TEXT NOT NULL,
    name_key           TEXT NOT NULL,
    kind               TEXT NOT NULL,
    tax_id             TEXT,
    email              TEXT,
    phone              TEXT,
    payment_terms_days BIGINT NOT NULL,
    currency           TEXT,
    contacts           TEXT NOT NULL,
    addresses          TEXT NOT NULL,
    status             TEXT NOT NULL,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    archived_at        BIGINT
);
CREATE UNIQUE INDEX partners_org_name_key ON partners (org_id, name_key);
CREATE INDEX partners_org_status_id ON partners (org_id, status, id);
