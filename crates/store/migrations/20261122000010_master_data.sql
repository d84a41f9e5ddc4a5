-- Master data: commodities, taxes, the chart of accounts, departments and employees. Codes are
-- unique per organization ignoring case (code_key is the lower-cased code). Tax rates are
-- percentages as BIGINT scaled by 10^4 (19.5 % is 195000). The baseline chart of accounts is
-- not seeded here: ids are made by the application, so it is seeded when an organization is
-- created, and at server start for organizations that have no account yet.

CREATE TABLE commodities (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    code          TEXT NOT NULL,
    code_key      TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    category      TEXT,
    hs_code       TEXT,
    unit          TEXT NOT NULL,
    quality       TEXT NOT NULL,
    quality_notes TEXT,
    status        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    archived_at   BIGINT
);
CREATE UNIQUE INDEX commodities_org_code_key ON commodities (org_id, code_key);
CREATE INDEX commodities_org_status_id ON commodities (org_id, status, id);

CREATE TABLE taxes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    code        TEXT NOT NULL,
    code_key    TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    rate        BIGINT NOT NULL,
    inclusive   BIGINT NOT NULL,
    applies_to  TEXT NOT NULL,
    description TEXT,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE UNIQUE INDEX taxes_org_code_key ON taxes (org_id, code_key);
CREATE INDEX taxes_org_status_id ON taxes (org_id, status, id);

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    code         TEXT NOT NULL,
    code_key     TEXT NOT NULL,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    account_type TEXT NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    archived_at  BIGINT
);
CREATE UNIQUE INDEX accounts_org_code_key ON accounts (org_id, code_key);
CREATE INDEX accounts_org_status_id ON accounts (org_id, status, id);

CREATE TABLE departments (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    code        TEXT NOT NULL,
    code_key    TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE UNIQUE INDEX departments_org_code_key ON departments (org_id, code_key);
CREATE INDEX departments_org_status_id ON departments (org_id, status, id);

CREATE TABLE employees (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    code          TEXT NOT NULL,
    code_key      TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments (id),
    job_title     TEXT,
    email         TEXT,
    phone         TEXT,
    hired_on      TEXT,
    status        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    archived_at   BIGINT
);
CREATE UNIQUE INDEX employees_org_code_key ON employees (org_id, code_key);
CREATE INDEX employees_org_status_id ON employees (org_id, status, id);
CREATE INDEX employees_department ON employees (department_id, status);

-- Taxes on order lines. A line keeps the tax it was priced with (id, rate and mode) and its
-- tax amount; its net amount is line_total, less tax_amount when the tax is inclusive. Orders
-- keep subtotal (without tax) and tax_total next to total; orders made before have no taxes.
ALTER TABLE purchase_order_lines ADD COLUMN tax_id TEXT REFERENCES taxes (id);
ALTER TABLE purchase_order_lines ADD COLUMN tax_rate BIGINT;
ALTER TABLE purchase_order_lines ADD COLUMN tax_inclusive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchase_order_lines ADD COLUMN tax_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchase_orders ADD COLUMN subtotal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchase_orders ADD COLUMN tax_total BIGINT NOT NULL DEFAULT 0;
UPDATE purchase_orders SET subtotal = total;

ALTER TABLE sales_order_lines ADD COLUMN tax_id TEXT REFERENCES taxes (id);
ALTER TABLE sales_order_lines ADD COLUMN tax_rate BIGINT;
ALTER TABLE sales_order_lines ADD COLUMN tax_inclusive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sales_order_lines ADD COLUMN tax_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sales_orders ADD COLUMN subtotal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sales_orders ADD COLUMN tax_total BIGINT NOT NULL DEFAULT 0;
UPDATE sales_orders SET subtotal = total;
