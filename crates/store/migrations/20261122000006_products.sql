-- Products and parts. Money is BIGINT scaled by 10^4, quantities by 10^6 (see
-- crates/domain/src/money.rs), so sums in SQL stay exact on both engines.

CREATE TABLE products (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id),
    sku                 TEXT NOT NULL,
    sku_key             TEXT NOT NULL,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    category            TEXT,
    tracked             BIGINT NOT NULL,
    stock_unit          TEXT NOT NULL,
    purchase_unit       TEXT,
    purchase_factor     BIGINT,
    sales_unit          TEXT,
    sales_factor        BIGINT,
    standard_cost       BIGINT NOT NULL,
    list_price          BIGINT NOT NULL,
    low_stock_threshold BIGINT,
    status              TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    archived_at         BIGINT
);
CREATE UNIQUE INDEX products_org_sku_key ON products (org_id, sku_key);
CREATE INDEX products_org_status_id ON products (org_id, status, id);
