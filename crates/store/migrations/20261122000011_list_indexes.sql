-- Every list pages in id order within one organization, optionally filtered by partner or
-- status. Without an (org_id, id) index SQLite read a whole organization's rows and sorted
-- them to return one page: 10-12 ms per page of purchase orders at 35,000 orders, and the
-- `vendor_id` filter scanned every order of the status. With these each page reads its rows
-- from an index in order: about 0.1 ms at the same size (BENCHMARKS.md, cause 7).
CREATE INDEX purchase_orders_org_id ON purchase_orders (org_id, id);
CREATE INDEX purchase_orders_org_vendor_id ON purchase_orders (org_id, vendor_id, id);
CREATE INDEX sales_orders_org_id ON sales_orders (org_id, id);
CREATE INDEX sales_orders_org_customer_id ON sales_orders (org_id, customer_id, id);
CREATE INDEX partners_org_id ON partners (org_id, id);
CREATE INDEX products_org_id ON products (org_id, id);
CREATE INDEX stock_moves_org_id ON stock_moves (org_id, id);
