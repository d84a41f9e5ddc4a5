-- Every order written changed a random leaf of these indexes (one of 300 vendors' ranges, say),
-- one more page per order for the WAL and the checkpoint to copy (BENCHMARKS.md, cause 15).
-- Every query of the store that filters orders by partner also names the organization, and
-- (org_id, vendor_id, id) / (org_id, customer_id, id) from the list indexes serve it. Only a
-- platform-wide filter by partner, across organizations, now reads more rows; partners
-- belong to one organization, so naming it is always possible.
DROP INDEX purchase_orders_vendor;
DROP INDEX sales_orders_customer;
