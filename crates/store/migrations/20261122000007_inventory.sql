-- Locations and the stock ledger. stock_moves is append-only; stock_levels and
-- product_valuations are kept in the same transaction as each move and can be rebuilt from
-- the ledger (`steelyard inventory check` compares them).

CREATE TABLE locations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    code        TEXT NOT NULL,
    code_key    TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    parent_id   TEXT REFERENCES locations (id),
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX locations_org_code_key ON locations (org_id, code_key);

CREATE TABLE stock_moves (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id),
    product_id       TEXT NOT NULL REFERENCES products (id),
    from_location_id TEXT NOT NULL REFERENCES locations (id),
    to_location_id   TEXT NOT NULL REFERENCES locations (id),
    quantity         BIGINT NOT NULL,
    unit_cost        BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    reference        TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX stock_moves_org_product ON stock_moves (org_id, product_id, id);

-- On hand and reserved per product and internal location.
CREATE TABLE stock_levels (
    org_id      TEXT NOT NULL,
    product_id  TEXT NOT NULL REFERENCES products (id),
    location_id TEXT NOT NULL REFERENCES locations (id),
    on_hand     BIGINT NOT NULL,
    reserved    BIGINT NOT NULL,
    PRIMARY KEY (product_id, location_id)
);
CREATE INDEX stock_levels_org ON stock_levels (org_id, product_id);

-- Quantity and value across internal locations, at moving average cost.
CREATE TABLE product_valuations (
    product_id   TEXT PRIMARY KEY REFERENCES products (id),
    org_id       TEXT NOT NULL,
    quantity     BIGINT NOT NULL,
    average_cost BIGINT NOT NULL,
    value        BIGINT NOT NULL
);
