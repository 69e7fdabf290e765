package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static com.aiplatform.backup.postgres.LogicalTestSupport.config;
import static com.aiplatform.backup.postgres.LogicalTestSupport.contentFingerprint;
import static com.aiplatform.backup.postgres.LogicalTestSupport.databaseExists;
import static com.aiplatform.backup.postgres.LogicalTestSupport.execute;
import static com.aiplatform.backup.postgres.LogicalTestSupport.query;
import static com.aiplatform.backup.postgres.LogicalTestSupport.rowCounts;
import static com.aiplatform.backup.postgres.LogicalTestSupport.schemaDump;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Acceptance 5: logical round trip on PostgreSQL 15 with the Debian client tools, through a real
 * engine (zstd + encryption, filesystem storage): schemas, tables, constraints, indexes, sequences,
 * views, a materialized view, comments, functions and data come back identical; a selected schema
 * alone; globals; parallel and clean restores.
 */
class LogicalRoundTripIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().build();

    static final String SOURCE = "logical_src";
    static final Set<String> SOURCE_SCHEMAS = Set.of("public", "sales", "inventory", "Audit Log");

    @TempDir
    static Path storage;

    static BackupEngine engine;
    static Manifest full;

    @BeforeAll
    static void createSourceAndBackUp() throws Exception {
        LogicalTestSupport.assumeTools();
        execute(PG, "postgres",
                "DROP ROLE IF EXISTS backup_test_role",
                "CREATE ROLE backup_test_role NOLOGIN",
                "CREATE DATABASE " + SOURCE);
        execute(PG, SOURCE, RICH_SCHEMA);
        execute(PG, SOURCE, RICH_DATA);
        engine = BackupEngine.builder()
                .storage(new FileSystemStorageTarget("local", storage))
                .compression(Compression.ZSTD)
                .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test"))
                .build();
        full = engine.backup(config(PG, "main-pg", SOURCE).build());
    }

    @AfterAll
    static void closeEngine() {
        if (engine != null) {
            engine.close();
        }
    }

    @Test
    void theManifestDescribesALogicalBackupWithExactRowCounts() throws Exception {
        assertThat(full.engine()).isEqualTo(PostgresBackupProvider.ENGINE);
        assertThat(full.method()).isEqualTo(PostgresBackupProvider.METHOD_LOGICAL);
        assertThat(full.kind()).isEqualTo(BackupKind.FULL);
        assertThat(full.artifacts()).extracting(ArtifactEntry::name).containsExactly("globals.sql", SOURCE + ".dump");
        assertThat(full.artifacts()).allSatisfy(a -> {
            assertThat(a.compression()).isEqualTo("zstd");
            assertThat(a.cipher()).isNotEqualTo("none");
            assertThat(a.keyId()).isNotNull();
        });
        assertThat(full.consistentPoint().position()).matches("[0-9A-F]+/[0-9A-F]+");
        assertThat(full.metadata()).containsEntry("database", SOURCE)
                .containsEntry("selection", "whole database")
                .containsEntry("dump-artifact", SOURCE + ".dump")
                .containsKeys("server-version", "pg-dump-version", "txid-snapshot", "encoding");
        assertThat(full.metadata().get("server-version")).startsWith("15.");
        assertThat(full.metadata().get("pg-dump-version")).startsWith("15.");
        Map<String, Long> expected = rowCounts(PG, SOURCE, SOURCE_SCHEMAS);
        assertThat(expected).containsKeys("sales.customer", "sales.orders", "sales.events_2025",
                "inventory.item", "Audit Log.Event", "public.settings");
        assertThat(new TreeMap<>(full.contentSummary())).isEqualTo(expected);
        assertThat(full.contentSummary().get("sales.orders")).isEqualTo(6000L);
    }

    @Test
    void wholeDatabaseRestoresIdenticallyIntoAFreshDatabase() throws Exception {
        String target = "logical_dst_full";
        assertThat(databaseExists(PG, target)).isFalse();

        engine.restore(config(PG, "main-pg", SOURCE).build(), full.backupId().value(), restore(Map.of(
                "target-url", url(target), "create-database", "true")));

        assertIdentical(SOURCE, target);
        assertThat(query(PG, target, "SELECT count(*) FROM sales.customer WHERE country IS NULL").get(0).get(0))
                .isNotEqualTo("0");
        assertThat(query(PG, target, "SELECT name FROM sales.customer WHERE id = 7").get(0).get(0))
                .isEqualTo("Zoë 7 日本語 🎉");
        assertThat(query(PG, target, "SELECT nextval('sales.invoice_no')").get(0).get(0))
                .as("the sequence goes on from its backed-up value (987654, increment 7)").isEqualTo("987661");
    }

    @Test
    void parallelRestoreWithTwoJobsStagesAPrivateFileAndDeletesIt(@TempDir Path staging) throws Exception {
        String target = "logical_dst_jobs";

        engine.restore(config(PG, "main-pg", SOURCE).build(), "latest", restore(Map.of(
                "target-url", url(target), "create-database", "true", "jobs", "2",
                "staging-dir", staging.toString())));

        assertIdentical(SOURCE, target);
        try (Stream<Path> left = Files.list(staging)) {
            assertThat(left).as("the staged archive and its folder are deleted").isEmpty();
        }
    }

    @Test
    void cleanRestoreOverAChangedDatabaseBringsBackTheBackedUpState() throws Exception {
        String target = "logical_dst_clean";
        engine.restore(config(PG, "main-pg", SOURCE).build(), full.backupId().value(), restore(Map.of(
                "target-url", url(target), "create-database", "true")));
        execute(PG, target,
                "UPDATE sales.customer SET name = 'changed' WHERE id < 100",
                "DELETE FROM inventory.stock WHERE warehouse = 2",
                "DROP VIEW sales.order_totals",
                "SELECT setval('sales.invoice_no', 5)");
        assertThat(contentFingerprint(PG, target)).isNotEqualTo(contentFingerprint(PG, SOURCE));

        engine.restore(config(PG, "main-pg", SOURCE).build(), full.backupId().value(), restore(Map.of(
                "target-url", url(target), "clean", "true")));

        assertIdentical(SOURCE, target);
    }

    @Test
    void aSelectedSchemaAloneBacksUpAndRestoresOnlyThatSchema() throws Exception {
        PostgresConfig inventoryOnly = config(PG, "inventory-only", SOURCE).schemas(List.of("inventory")).build();
        Manifest m = engine.backup(inventoryOnly);
        assertThat(m.contentSummary()).containsOnlyKeys("inventory.item", "inventory.stock");
        assertThat(m.metadata()).containsEntry("schemas", "inventory").containsEntry("selection", "-n inventory");

        String target = "logical_dst_inventory";
        engine.restore(inventoryOnly, "latest", restore(Map.of("target-url", url(target), "create-database", "true")));

        List<String> schemas = query(PG, target, "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
                + "AND nspname <> 'information_schema' ORDER BY 1").stream().map(r -> r.get(0)).toList();
        assertThat(schemas).containsExactly("inventory", "public");
        assertThat(query(PG, target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").get(0).get(0))
                .as("public keeps only what a fresh database has").isEqualTo("0");
        Map<String, String> expected = filterInventory(contentFingerprint(PG, SOURCE));
        assertThat(contentFingerprint(PG, target)).isEqualTo(expected);
        assertThat(rowCounts(PG, target, Set.of("inventory"))).isEqualTo(new TreeMap<>(m.contentSummary()));
    }

    @Test
    void globalsHoldTheRolesAndComeBackOnlyWhenAsked() throws Exception {
        execute(PG, "postgres",
                "DROP ROLE IF EXISTS backup_globals_role",
                "CREATE ROLE backup_globals_role LOGIN CREATEDB CONNECTION LIMIT 7 PASSWORD 'globals-pw-1'");
        PostgresConfig config = config(PG, "with-globals", SOURCE).build();

        LogicalTestSupport.MemorySink sink = new LogicalTestSupport.MemorySink();
        BackupResult direct = LogicalBackup.run(config, sink);
        assertThat(sink.closed).containsExactlyInAnyOrder("globals.sql", SOURCE + ".dump");
        assertThat(sink.text("globals.sql")).contains("CREATE ROLE backup_globals_role;", "CREATE ROLE backup_test_role;")
                .contains("CONNECTION LIMIT 7").doesNotContain("globals-pw-1");
        assertThat(direct.metadata()).containsEntry("globals-role-passwords", "true");

        engine.backup(config);
        execute(PG, "postgres", "DROP ROLE backup_globals_role");

        engine.restore(config, "latest", restore(Map.of("target-url", url("logical_dst_noglobals"),
                "create-database", "true")));
        assertThat(roleAttributes("backup_globals_role")).as("globals are not restored by default").isEmpty();

        engine.restore(config, "latest", restore(Map.of("target-url", url("logical_dst_globals"),
                "create-database", "true", "globals", "true")));
        assertThat(roleAttributes("backup_globals_role")).containsExactly(List.of("t", "t", "7", "t"));
        assertIdentical(SOURCE, "logical_dst_globals");
    }

    @Test
    void theRowCountsCoverExactlyTheTablesPgDumpWrites(@TempDir Path tmp) throws Exception {
        List<PostgresConfig> selections = List.of(
                config(PG, "sel", SOURCE).tables(List.of("sales.order*")).build(),
                config(PG, "sel", SOURCE).tables(List.of("\"Audit Log\".*", "settings")).build(),
                config(PG, "sel", SOURCE).tables(List.of("sales.events")).build(),
                config(PG, "sel", SOURCE).excludeSchemas(List.of("sales")).build(),
                config(PG, "sel", SOURCE).excludeTables(List.of("sales.events_*", "inventory.stock")).build(),
                config(PG, "sel", SOURCE).schemas(List.of("SALES", "\"Audit Log\""))
                        .excludeTables(List.of("sales.customer")).build());
        for (PostgresConfig selection : selections) {
            LogicalTestSupport.MemorySink sink = new LogicalTestSupport.MemorySink();
            BackupResult result = LogicalBackup.run(selection, sink);
            Path dump = tmp.resolve("dump-" + System.nanoTime());
            Files.write(dump, sink.artifacts.get(SOURCE + ".dump").toByteArray());
            Set<String> written = LogicalTestSupport.runTool("pg_restore", List.of("--list", dump.toString()))
                    .lines()
                    .filter(l -> l.contains(" TABLE DATA "))
                    .map(l -> l.substring(l.indexOf(" TABLE DATA ") + 12, l.lastIndexOf(' ')))
                    .collect(Collectors.toCollection(TreeSet::new));
            Set<String> counted = result.contentSummary().keySet().stream()
                    .map(k -> k.replace('.', ' ')).collect(Collectors.toCollection(TreeSet::new));
            assertThat(counted).as(LogicalSelection.describe(selection)).isEqualTo(written);
        }
    }

    private static List<List<String>> roleAttributes(String role) throws Exception {
        return query(PG, "postgres", "SELECT rolcanlogin, rolcreatedb, rolconnlimit, rolpassword IS NOT NULL "
                + "FROM pg_authid WHERE rolname = '" + role + "'");
    }

    private static void assertIdentical(String source, String target) throws Exception {
        assertThat(schemaDump(PG, target)).isEqualTo(schemaDump(PG, source));
        Map<String, String> expected = contentFingerprint(PG, source);
        assertThat(expected).hasSizeGreaterThan(10);
        assertThat(contentFingerprint(PG, target)).isEqualTo(expected);
    }

    private static Map<String, String> filterInventory(Map<String, String> fingerprint) {
        Map<String, String> result = new TreeMap<>();
        fingerprint.forEach((k, v) -> {
            if (k.startsWith("inventory.")) {
                result.put(k, v);
            }
        });
        return result;
    }

    private static String url(String database) {
        return "postgresql://" + PG.host() + ":" + PG.port() + "/" + database;
    }

    private static RestoreOptions restore(Map<String, String> options) {
        return new RestoreOptions(Optional.empty(), false, new HashMap<>(options));
    }

    /** Several schemas, every kind of object the acceptance lists. */
    static final String RICH_SCHEMA = """
            CREATE SCHEMA sales;
            CREATE SCHEMA inventory;
            CREATE SCHEMA "Audit Log";
            CREATE TYPE sales.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
            CREATE DOMAIN sales.positive_amount AS numeric(12,2) CHECK (VALUE > 0);
            CREATE SEQUENCE sales.invoice_no START 1000 INCREMENT 7;
            CREATE TABLE sales.customer (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                email text NOT NULL UNIQUE,
                name text NOT NULL,
                country char(2) CHECK (country ~ '^[A-Z]{2}$'),
                profile jsonb,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE sales.orders (
                id serial PRIMARY KEY,
                customer_id bigint NOT NULL REFERENCES sales.customer(id) ON DELETE CASCADE,
                status sales.order_status NOT NULL DEFAULT 'new',
                total sales.positive_amount,
                total_with_tax numeric GENERATED ALWAYS AS (total * 1.19) STORED,
                invoice_no int DEFAULT nextval('sales.invoice_no'),
                tags text[],
                note text,
                CONSTRAINT orders_note_len CHECK (char_length(note) < 500),
                UNIQUE (customer_id, invoice_no)
            );
            CREATE INDEX orders_open_idx ON sales.orders (status) WHERE status <> 'cancelled';
            CREATE INDEX customer_lower_email ON sales.customer (lower(email));
            CREATE INDEX customer_profile_gin ON sales.customer USING gin (profile);
            CREATE TABLE sales.events (id int NOT NULL, at date NOT NULL, what text) PARTITION BY RANGE (at);
            CREATE TABLE sales.events_2025 PARTITION OF sales.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE sales.events_2026 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE VIEW sales.order_totals AS
                SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS total
                FROM sales.customer c LEFT JOIN sales.orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
            CREATE MATERIALIZED VIEW sales.country_totals AS
                SELECT country, count(*) AS customers FROM sales.customer GROUP BY country WITH NO DATA;
            CREATE INDEX country_totals_idx ON sales.country_totals (country);
            COMMENT ON TABLE sales.customer IS 'Customers — Kunden — 顧客';
            COMMENT ON COLUMN sales.orders.note IS 'free text, at most 500 characters';
            COMMENT ON SCHEMA inventory IS 'what we have where';
            CREATE FUNCTION sales.order_count(cid bigint) RETURNS bigint LANGUAGE sql STABLE
                AS $$ SELECT count(*) FROM sales.orders WHERE customer_id = cid $$;
            CREATE FUNCTION sales.default_note() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN NEW.note := coalesce(NEW.note, 'auto'); RETURN NEW; END $$;
            CREATE TRIGGER orders_default_note BEFORE INSERT ON sales.orders
                FOR EACH ROW EXECUTE FUNCTION sales.default_note();
            GRANT USAGE ON SCHEMA sales TO backup_test_role;
            GRANT SELECT ON sales.order_totals TO backup_test_role;

            CREATE TABLE inventory.item (
                sku text PRIMARY KEY,
                title text NOT NULL,
                picture bytea,
                attrs jsonb,
                price numeric(10,2) CHECK (price >= 0),
                weight real,
                updated timestamptz
            );
            CREATE TABLE inventory.stock (
                sku text NOT NULL REFERENCES inventory.item (sku),
                warehouse int NOT NULL,
                qty int NOT NULL DEFAULT 0 CHECK (qty >= 0),
                PRIMARY KEY (sku, warehouse)
            );
            CREATE SEQUENCE inventory.batch_seq;
            CREATE VIEW inventory.low_stock AS
                SELECT sku, sum(qty) AS qty FROM inventory.stock GROUP BY sku HAVING sum(qty) < 10;

            CREATE TABLE "Audit Log"."Event" (id bigserial PRIMARY KEY, "At" timestamptz, payload jsonb, raw bytea);
            CREATE TABLE public.settings (key text PRIMARY KEY, value text);
            CREATE UNLOGGED TABLE public.cache (k text PRIMARY KEY, v bytea);
            """;

    /** Data with NULLs, unicode, control characters, bytea, jsonb, arrays; sequences advanced. */
    static final String RICH_DATA = """
            INSERT INTO sales.customer (email, name, country, profile)
                SELECT 'c' || g || '@example.com', 'Zoë ' || g || ' 日本語 🎉',
                       CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['DE', 'FR', 'JP', 'US'])[1 + g % 4] END,
                       CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('n', g, 'name', 'Ünïcødé ' || g,
                           'tags', jsonb_build_array('a', g % 3), 'nested', jsonb_build_object('x', g * 1.5, 'nil', null)) END
                FROM generate_series(1, 2000) g;
            INSERT INTO sales.orders (customer_id, status, total, tags, note)
                SELECT 1 + g % 2000, (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4]::sales.order_status,
                       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 997) + 0.99 END,
                       CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY['t' || g % 5, NULL, 'ä"q''uote'] END,
                       CASE WHEN g % 4 = 0 THEN NULL ELSE E'line 1\\nline 2\\ttab \\\\ backslash ''quoted'' ' || g END
                FROM generate_series(1, 6000) g;
            SELECT setval('sales.invoice_no', 987654, true);
            INSERT INTO sales.events SELECT g, DATE '2025-01-01' + (g % 700), 'event ' || g FROM generate_series(1, 1500) g;
            REFRESH MATERIALIZED VIEW sales.country_totals;
            INSERT INTO inventory.item
                SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Item № ' || g,
                       CASE WHEN g % 9 = 0 THEN NULL
                            ELSE decode(repeat(lpad(to_hex(g), 8, '0'), 64), 'hex') || '\\x00ff00'::bytea END,
                       jsonb_build_object('size', g % 10, 'colour', (ARRAY['red', 'grün', '青'])[1 + g % 3]),
                       g * 1.25, g / 3.0, TIMESTAMPTZ '2025-06-01 12:00:00+00' + g * INTERVAL '1 minute'
                FROM generate_series(1, 500) g;
            INSERT INTO inventory.stock SELECT 'SKU-' || lpad(g::text, 5, '0'), w, (g * w) % 40
                FROM generate_series(1, 500) g, generate_series(1, 3) w;
            SELECT setval('inventory.batch_seq', 424242, false);
            INSERT INTO "Audit Log"."Event" ("At", payload, raw)
                SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + g * INTERVAL '1 hour', jsonb_build_object('event', g),
                       CASE WHEN g % 2 = 0 THEN NULL ELSE '\\x000102feff'::bytea END
                FROM generate_series(1, 300) g;
            INSERT INTO public.settings VALUES ('mode', 'on'), ('empty', ''), ('null', NULL), ('tab', E'a\\tb');
            INSERT INTO public.cache SELECT 'k' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 50) g;
            """;
}
