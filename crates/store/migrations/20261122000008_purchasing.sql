-- Purchase orders and their lines, and the per-organization counters behind document
-- numbers (PO-000123), allocated inside the creating transaction.

CREATE TABLE document_numbers (
    org_id   TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    last     BIGINT NOT NULL,
    PRIMARY KEY (org_id, doc_type)
);

CREATE TABLE purchase_orders (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    number       TEXT NOT NULL,
    vendor_id    TEXT NOT NULL REFERENCES partners (id),
    status       TEXT NOT NULL,
    notes        TEXT,
    total        BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    confirmed_at BIGINT
);
CREATE UNIQUE INDEX purchase_orders_org_number ON purchase_orders (org_id, number);
CREATE INDEX purchase_orders_org_status_id ON purchase_orders (org_id, status, id);
CREATE INDEX purchase_orders_vendor ON purchase_orders (vendor_id, id);

CREATE TABLE purchase_order_lines (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES purchase_orders (id),
    line_no     BIGINT NOT NULL,
    product_id  TEXT NOT NULL REFERENCES products (id),
    quantity    BIGINT NOT NULL,
    unit        TEXT NOT NULL,
    unit_price  BIGINT NOT NULL,
    line_total  BIGINT NOT NULL,
    unit_factor BIGINT NOT NULL,
    received    BIGINT NOT NULL
);
CREATE INDEX purchase_order_lines_order ON purchase_order_lines (order_id, line_no);
