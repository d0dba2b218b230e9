package com.jiffoo.backup.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A realistic shop schema for restore tests: customers, products, orders and order items with foreign keys and
 * indexes; a sequence with a set value; a view; a SQL and a PL/pgSQL function; bytea, jsonb, numeric, timestamptz,
 * unicode text (emoji, CJK, combining marks) and NULLs. Rows are generated in SQL with {@code generate_series}
 * (deterministic, fast).
 *
 * <p>For {@code orders = n}: customers n/10, products max(50, n/100), order items 2n. {@code create(c, 100_000)}
 * makes about 311,000 rows.
 */
public final class ShopSchema {
    /** The tables, schema-qualified. */
    public static final java.util.List<String> TABLES = java.util.List.of(
            "public.customers", "public.products", "public.orders", "public.order_items", "shop_audit.events");

    private ShopSchema() {}

    /** Creates the schema and {@code orders} orders (and the rows that go with them) in the connected database. */
    public static void create(Connection c, int orders) throws SQLException {
        int customers = Math.max(10, orders / 10);
        int products = Math.max(50, orders / 100);
        try (Statement s = c.createStatement()) {
            s.execute("""
                    CREATE SCHEMA shop_audit;
                    CREATE TABLE customers (
                        id          integer PRIMARY KEY,
                        email       text NOT NULL UNIQUE,
                        name        text NOT NULL,
                        country     char(2),
                        note        text,
                        created_at  timestamptz NOT NULL
                    );
                    CREATE TABLE products (
                        id      integer PRIMARY KEY,
                        sku     text NOT NULL UNIQUE,
                        title   text NOT NULL,
                        price   numeric(10,2) NOT NULL CHECK (price >= 0),
                        attrs   jsonb,
                        image   bytea
                    );
                    CREATE TABLE orders (
                        id           bigserial PRIMARY KEY,
                        customer_id  integer NOT NULL REFERENCES customers(id),
                        status       text NOT NULL DEFAULT 'new',
                        placed_at    timestamptz NOT NULL,
                        comment      text
                    );
                    CREATE TABLE order_items (
                        order_id    bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
                        line        integer NOT NULL,
                        product_id  integer NOT NULL REFERENCES products(id),
                        qty         integer NOT NULL,
                        unit_price  numeric(10,2) NOT NULL,
                        PRIMARY KEY (order_id, line)
                    );
                    CREATE TABLE shop_audit.events (
                        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        payload  jsonb NOT NULL,
                        at       timestamptz NOT NULL
                    );
                    CREATE INDEX orders_customer_idx ON orders(customer_id);
                    CREATE INDEX orders_placed_idx ON orders(placed_at DESC);
                    CREATE INDEX order_items_product_idx ON order_items(product_id);
                    CREATE INDEX products_attrs_gin ON products USING gin (attrs);
                    CREATE SEQUENCE invoice_no_seq START 1000;
                    CREATE FUNCTION order_total(oid bigint) RETURNS numeric LANGUAGE sql STABLE AS
                        $$ SELECT coalesce(sum(qty * unit_price), 0) FROM order_items WHERE order_id = oid $$;
                    CREATE FUNCTION shop_audit.greet(who text) RETURNS text LANGUAGE plpgsql AS
                        $$ BEGIN RETURN 'こんにちは ' || who || ' 👋'; END $$;
                    CREATE VIEW order_totals AS
                        SELECT o.id, o.customer_id, sum(i.qty * i.unit_price) AS total
                        FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.id, o.customer_id;
                    COMMENT ON TABLE orders IS 'Bestellungen — 注文 📦';
                    """);
            s.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.com', "
                    + "(ARRAY['Zoë Ångström', '山田 太郎', 'José Ñúñez', 'Ωmega 😀', 'Ada Lovelace'])[1 + g % 5] || ' ' || g, "
                    + "(ARRAY['DE','JP','ES','GR',NULL])[1 + g % 5], "
                    + "CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ✓ ' || md5(g::text) END, "
                    + "timestamptz '2024-01-01 00:00:00+00' + g * interval '17 minutes' "
                    + "FROM generate_series(1, " + customers + ") g");
            s.execute("INSERT INTO products SELECT g, 'SKU-' || lpad(g::text, 6, '0'), "
                    + "(ARRAY['茶碗', 'Tasse ☕', 'Café crème', '🎲 dice', 'e\u0301clair'])[1 + g % 5] || ' #' || g, "
                    + "round((g % 997) * 1.37 + 0.99, 2), "
                    + "CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('color', (ARRAY['red','绿','blue'])[1 + g % 3], "
                    + "'size', g % 13, 'tags', jsonb_build_array('a', g, true, null)) END, "
                    + "CASE WHEN g % 3 = 0 THEN NULL ELSE decode(md5(g::text) || md5((g * 7)::text), 'hex') END "
                    + "FROM generate_series(1, " + products + ") g");
            s.execute("INSERT INTO orders (id, customer_id, status, placed_at, comment) SELECT g, 1 + (g * 7919) % "
                    + customers + ", (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], "
                    + "timestamptz '2025-01-01 00:00:00+00' + g * interval '3 minutes', "
                    + "CASE WHEN g % 5 = 0 THEN 'bitte schnell 🚚 / 至急' WHEN g % 5 = 1 THEN NULL ELSE '' END "
                    + "FROM generate_series(1, " + orders + ") g");
            s.execute("SELECT setval('orders_id_seq', " + orders + ")");
            s.execute("INSERT INTO order_items SELECT o, l, 1 + (o * 31 + l) % " + products + ", 1 + (o + l) % 5, "
                    + "round(((o * 31 + l) % 997) * 1.37 + 0.99, 2) "
                    + "FROM generate_series(1, " + orders + ") o, generate_series(1, 2) l");
            s.execute("INSERT INTO shop_audit.events (payload, at) SELECT jsonb_build_object('order', g, 'msg', "
                    + "'ok ✅'), timestamptz '2025-06-01 00:00:00+00' + g * interval '1 second' "
                    + "FROM generate_series(1, " + Math.max(10, orders / 100) + ") g");
            s.execute("SELECT setval('invoice_no_seq', 4242)");
            s.execute("ANALYZE");
        }
    }

    /** Exact row counts per table, keyed {@code schema.table}, as the pg_dump side records them in the manifest. */
    public static java.util.Map<String, Object> rowCounts(Connection c) throws SQLException {
        java.util.Map<String, Object> counts = new java.util.TreeMap<>();
        try (Statement s = c.createStatement()) {
            for (String t : TABLES) {
                try (java.sql.ResultSet r = s.executeQuery("SELECT count(*) FROM " + t)) {
                    r.next();
                    counts.put(t, r.getLong(1));
                }
            }
        }
        return counts;
    }
}
