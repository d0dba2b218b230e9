-- The bench databases' orders table (benchmarks/cli-ratios.sh, benchmarks/pitr.sh): 1,000,000 deterministic rows
-- (hashes of the row number); text with backslashes and newlines, jsonb orders with line items.
CREATE TABLE orders AS
SELECT g AS id, (hashint4(g) & 2147483647) % 100000 AS customer_id,
       timestamptz '2026-01-01 00:00:00+00' - g * interval '31 seconds' AS created,
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + g % 5] AS status,
       jsonb_build_object('customer', substr(md5(g::text), 1, 12),
           'lines', (SELECT jsonb_agg(jsonb_build_object('sku', (hashint4(g * 10 + i) & 2147483647) % 100000,
                         'qty', 1 + i % 4, 'price', ((hashint4(g * 10 + i + 5) & 2147483647) % 100000) / 100.0))
                     FROM generate_series(1, 1 + g % 2) i)) AS doc,
       E'note \\ ' || g || E'\n' || (g % 97) AS note
FROM generate_series(1, 1000000) g;
ALTER TABLE orders ADD PRIMARY KEY (id);
CREATE INDEX orders_customer ON orders (customer_id);
