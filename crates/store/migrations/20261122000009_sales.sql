-- Sales orders and their lines. Confirmed orders hold reservations in stock_levels.reserved.

CREATE TABLE sales_orders (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    number      TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES partners (id),
    location_id TEXT NOT NULL REFERENCES locations (id),
    status      TEXT NOT NULL,
    notes       TEXT,
    total       BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX sales_orders_org_number ON sales_orders (org_id, number);
CREATE INDEX sales_orders_org_status_id ON sales_orders (org_id, status, id);
CREATE INDEX sales_orders_customer ON sales_orders (customer_id, id);

CREATE TABLE sales_order_lines (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES sales_orders (id),
    line_no    BIGINT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity   BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    line_total BIGINT NOT NULL,
    shipped    BIGINT NOT NULL
);
CREATE INDEX sales_order_lines_order ON sales_order_lines (order_id, line_no);
