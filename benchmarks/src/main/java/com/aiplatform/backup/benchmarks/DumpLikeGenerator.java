package com.aiplatform.backup.benchmarks;

import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Produces text that looks like the output of {@code pg_dump}: a preamble, then for each
 * table a {@code CREATE TABLE}, a {@code COPY ... FROM stdin;} block of tab-separated rows
 * and an index. Rows carry what real application tables carry: sequential ids with gaps,
 * increasing ISO timestamps with microseconds, UUIDs, e-mail addresses, words drawn from a
 * skewed vocabulary, small JSON documents, amounts and scores.
 *
 * <p>The output depends only on the seed. Its mix is calibrated so that zstd level 1
 * compresses it about 3.5 times (3.4-3.5 measured), like the dumps in PERFORMANCE.md; the
 * benchmarks refuse to run if a change moves it outside 3 to 5.
 */
final class DumpLikeGenerator {

    private static final String[] WORDS = (
            "the of and to in is for on that with as by at from this be are or an was it not "
            + "account order customer payment invoice product item price shipping address "
            + "status pending active inactive completed cancelled refunded failed delivered "
            + "user session login logout search view click cart checkout coupon discount "
            + "review rating comment reply message notification email report export import "
            + "warehouse stock supplier category brand model color size weight region "
            + "alpha beta gamma delta omega widget gadget sensor module service cluster node "
            + "backup restore snapshot replica primary standby index table schema column "
            + "vector embedding document chunk token model prompt response latency error "
            + "timeout retry queue worker batch stream partition offset topic consumer "
            + "small large medium premium basic standard express overnight weekly monthly "
            + "red green blue black white silver gold steel wooden plastic leather cotton "
            + "berlin london paris madrid warsaw prague vienna dublin lisbon oslo helsinki "
            + "quick brown lazy happy bright dark clean fresh simple modern classic smart "
            + "new old first last next best free open closed public private internal "
            + "please thanks delivery arrived late early damaged perfect great terrible "
            + "would could should will can may might must have has had do does did "
            + "update insert delete select create alter drop grant revoke vacuum analyze "
            + "kafka redis mongo postgres weaviate mysql elastic spark flink airflow"
    ).split(" ");

    private static final String[] FIRST = (
            "anna ben carla david eva felix greta hugo ida jonas kim lena max nina oskar "
            + "paula quinn rosa sven tina ulla victor wanda xaver yara zoe maria jan piotr "
            + "sofia lukas emma noah mia leon olivia elias amelie finn").split(" ");
    private static final String[] LAST = (
            "muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann "
            + "novak kowalski garcia martin rossi smith jones brown taylor wilson davies "
            + "evans thomas johnson roberts walker wright robinson thompson white").split(" ");
    private static final String[] DOMAINS = (
            "example.com mail.example.org corp.example.net shop.example.io").split(" ");
    private static final String[] COUNTRIES = (
            "DE PL FR ES IT NL AT CZ SE NO FI DK IE PT GB US CA").split(" ");
    private static final String[] EVENT_TYPES = (
            "page_view page_view page_view click click search add_to_cart checkout "
            + "login logout purchase api_call api_call error").split(" ");
    private static final String[] ORDER_STATUS = (
            "pending paid paid shipped shipped delivered delivered delivered cancelled "
            + "refunded").split(" ");
    private static final String[] CURRENCIES = "EUR EUR EUR USD PLN GBP".split(" ");
    private static final String[] ACTIONS = "INSERT UPDATE UPDATE UPDATE DELETE".split(" ");
    private static final String[] TABLES = (
            "users orders order_items products events sessions payments invoices").split(" ");
    private static final String[] AGENTS = {
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
            "okhttp/4.12.0", "python-requests/2.32.3", "curl/8.8.0"};

    private static final byte[][] WORD_BYTES = ascii(WORDS);
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    /** 2024-01-01T00:00:00Z; every table's timestamps start here and only increase. */
    private static final long EPOCH_2024_MICROS = 1_704_067_200_000_000L;

    private final SplittableRandom random;
    private final ChunkWriter out;
    private final long size;

    private long eventId = 48_000_000;
    private long userId = 1;
    private long orderId = 7_300_000;
    private long auditId = 912_000_000;
    private long documentId = 1;
    private long clockMicros = EPOCH_2024_MICROS;

    private DumpLikeGenerator(long seed, long size) {
        this.random = new SplittableRandom(seed);
        this.out = new ChunkWriter(size);
        this.size = size;
    }

    /**
     * Returns exactly {@code size} bytes of dump-like text in pieces of {@link Input#CHUNK}
     * bytes (the last one may be shorter).
     */
    static byte[][] generate(long seed, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, was " + size);
        }
        DumpLikeGenerator g = new DumpLikeGenerator(seed, size);
        g.run();
        return g.out.chunks();
    }

    private void run() {
        preamble();
        while (!out.full()) {
            switch (random.nextInt(5)) {
                case 0 -> table("events", "id bigint NOT NULL, created_at timestamp with time zone NOT NULL, "
                        + "user_id bigint, event_type text NOT NULL, session_id uuid, payload jsonb",
                        "id, created_at, user_id, event_type, session_id, payload", 0);
                case 1 -> table("users", "id bigint NOT NULL, email text NOT NULL, display_name text, "
                        + "country character(2), created_at timestamp with time zone, is_active boolean, "
                        + "score double precision",
                        "id, email, display_name, country, created_at, is_active, score", 1);
                case 2 -> table("orders", "id bigint NOT NULL, user_id bigint NOT NULL, status text, "
                        + "total numeric(12,2), currency character(3), created_at timestamp with time zone, "
                        + "items jsonb",
                        "id, user_id, status, total, currency, created_at, items", 2);
                case 3 -> table("audit_log", "id bigint NOT NULL, ts timestamp with time zone, actor text, "
                        + "action text, table_name text, row_id bigint, diff jsonb",
                        "id, ts, actor, action, table_name, row_id, diff", 3);
                default -> table("documents", "id bigint NOT NULL, title text, body text, tags text[], "
                        + "updated_at timestamp with time zone",
                        "id, title, body, tags, updated_at", 4);
            }
        }
    }

    private void preamble() {
        out.line("--");
        out.line("-- PostgreSQL database dump");
        out.line("--");
        out.line("");
        out.line("-- Dumped from database version 16.4");
        out.line("-- Dumped by pg_dump version 16.4");
        out.line("");
        out.line("SET statement_timeout = 0;");
        out.line("SET lock_timeout = 0;");
        out.line("SET idle_in_transaction_session_timeout = 0;");
        out.line("SET client_encoding = 'UTF8';");
        out.line("SET standard_conforming_strings = on;");
        out.line("SELECT pg_catalog.set_config('search_path', '', false);");
        out.line("SET check_function_bodies = false;");
        out.line("SET xmloption = content;");
        out.line("SET client_min_messages = warning;");
        out.line("SET row_security = off;");
        out.line("");
    }

    private void table(String name, String columns, String copyColumns, int kind) {
        int part = random.nextInt(1000);
        String table = "public." + name + "_p" + part;
        out.line("--");
        out.line("-- Name: " + name + "_p" + part + "; Type: TABLE; Schema: public; Owner: app");
        out.line("--");
        out.line("");
        out.line("CREATE TABLE " + table + " (" + columns + ");");
        out.line("");
        out.line("ALTER TABLE " + table + " OWNER TO app;");
        out.line("");
        out.line("COPY " + table + " (" + copyColumns + ") FROM stdin;");
        int rows = 2_000 + random.nextInt(20_000);
        for (int i = 0; i < rows && !out.full(); i++) {
            switch (kind) {
                case 0 -> eventRow();
                case 1 -> userRow();
                case 2 -> orderRow();
                case 3 -> auditRow();
                default -> documentRow();
            }
        }
        out.line("\\.");
        out.line("");
        out.line("CREATE INDEX " + name + "_p" + part + "_created_idx ON " + table + " USING btree (id);");
        out.line("");
    }

    // ----- rows ---------------------------------------------------------------------------

    private void eventRow() {
        eventId += 1 + random.nextInt(3);
        out.number(eventId).tab();
        timestamp(tick(250_000)).tab();
        out.number(1 + random.nextInt(400_000)).tab();
        out.ascii(pick(EVENT_TYPES)).tab();
        uuid().tab();
        out.ascii("{\"path\": \"/").word(zipfWord()).ascii("/").word(zipfWord());
        out.ascii("\", \"ref\": \"").word(zipfWord());
        out.ascii("\", \"ms\": ").number(random.nextInt(2_000));
        out.ascii(", \"ok\": ").ascii(random.nextInt(20) == 0 ? "false" : "true");
        if (random.nextInt(3) == 0) {
            out.ascii(", \"ua\": \"").ascii(pick(AGENTS)).ascii("\"");
        }
        out.ascii("}").newline();
    }

    private void userRow() {
        userId += 1 + (random.nextInt(10) == 0 ? random.nextInt(50) : 0);
        String first = pick(FIRST);
        String last = pick(LAST);
        out.number(userId).tab();
        out.ascii(first).ascii(".").ascii(last).number(random.nextInt(1000)).ascii("@")
                .ascii(pick(DOMAINS)).tab();
        out.ascii(capitalize(first)).ascii(" ").ascii(capitalize(last)).tab();
        out.ascii(pick(COUNTRIES)).tab();
        timestamp(tick(4_000_000)).tab();
        out.ascii(random.nextInt(8) == 0 ? "f" : "t").tab();
        out.ascii("0.").fixed(random.nextInt(10_000), 4).newline();
    }

    private void orderRow() {
        orderId += 1 + random.nextInt(2);
        out.number(orderId).tab();
        out.number(1 + random.nextInt(400_000)).tab();
        out.ascii(pick(ORDER_STATUS)).tab();
        out.number(random.nextInt(900)).ascii(".").fixed(random.nextInt(100), 2).tab();
        out.ascii(pick(CURRENCIES)).tab();
        timestamp(tick(900_000)).tab();
        int items = 1 + random.nextInt(3);
        out.ascii("[");
        for (int i = 0; i < items; i++) {
            if (i > 0) {
                out.ascii(", ");
            }
            out.ascii("{\"sku\": \"").word(zipfWord()).ascii("-").fixed(random.nextInt(10_000), 4);
            out.ascii("\", \"qty\": ").number(1 + random.nextInt(4));
            out.ascii(", \"price\": ").number(random.nextInt(300)).ascii(".").fixed(random.nextInt(100), 2);
            out.ascii("}");
        }
        out.ascii("]").newline();
    }

    private void auditRow() {
        auditId += 1;
        out.number(auditId).tab();
        timestamp(tick(120_000)).tab();
        out.ascii("app_").ascii(pick(FIRST)).tab();
        out.ascii(pick(ACTIONS)).tab();
        out.ascii(pick(TABLES)).tab();
        out.number(1 + random.nextInt(10_000_000)).tab();
        out.ascii("{\"").word(zipfWord()).ascii("\": {\"old\": \"").word(zipfWord());
        out.ascii("\", \"new\": \"").word(zipfWord()).ascii("\"}, \"version\": ")
                .number(1 + random.nextInt(40)).ascii("}").newline();
    }

    private void documentRow() {
        documentId += 1;
        out.number(documentId).tab();
        int titleWords = 3 + random.nextInt(5);
        for (int i = 0; i < titleWords; i++) {
            if (i > 0) {
                out.ascii(" ");
            }
            out.word(zipfWord());
        }
        out.tab();
        int sentences = 2 + random.nextInt(5);
        for (int s = 0; s < sentences; s++) {
            int words = 6 + random.nextInt(12);
            for (int i = 0; i < words; i++) {
                if (i > 0 || s > 0) {
                    out.ascii(" ");
                }
                out.word(zipfWord());
            }
            out.ascii(".");
        }
        out.tab();
        out.ascii("{").word(zipfWord()).ascii(",").word(zipfWord()).ascii("}").tab();
        timestamp(tick(2_000_000)).newline();
    }

    // ----- fields -------------------------------------------------------------------------

    private long tick(int maxMicros) {
        clockMicros += random.nextInt(maxMicros);
        return clockMicros;
    }

    /** {@code 2024-03-15 12:34:56.123456+00}, as pg_dump writes timestamptz in UTC. */
    private ChunkWriter timestamp(long epochMicros) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(
                Math.floorDiv(epochMicros, 1_000_000L), 0, ZoneOffset.UTC);
        out.fixed(t.getYear(), 4).ascii("-").fixed(t.getMonthValue(), 2).ascii("-")
                .fixed(t.getDayOfMonth(), 2).ascii(" ").fixed(t.getHour(), 2).ascii(":")
                .fixed(t.getMinute(), 2).ascii(":").fixed(t.getSecond(), 2).ascii(".")
                .fixed(Math.floorMod(epochMicros, 1_000_000L), 6).ascii("+00");
        return out;
    }

    private ChunkWriter uuid() {
        long hi = random.nextLong();
        long lo = random.nextLong();
        hex(hi >>> 32, 8).ascii("-");
        hex(hi >>> 16, 4).ascii("-");
        hex((hi & 0x0fff) | 0x4000, 4).ascii("-");
        hex(((lo >>> 48) & 0x3fff) | 0x8000, 4).ascii("-");
        return hex(lo, 12);
    }

    private ChunkWriter hex(long value, int digits) {
        for (int i = digits - 1; i >= 0; i--) {
            out.put(HEX[(int) (value >>> (4 * i)) & 0xf]);
        }
        return out;
    }

    /** A word index skewed towards the start of the vocabulary, like natural text. */
    private int zipfWord() {
        double u = random.nextDouble();
        return (int) (WORDS.length * u * u * u);
    }

    private String pick(String[] values) {
        return values[random.nextInt(values.length)];
    }

    private static String capitalize(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    private static byte[][] ascii(String[] values) {
        byte[][] result = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            result[i] = values[i].getBytes(StandardCharsets.US_ASCII);
        }
        return result;
    }

    /** Appends ASCII to 64 KiB pieces and silently drops whatever goes past the size. */
    private static final class ChunkWriter {
        private final long size;
        private final List<byte[]> chunks = new ArrayList<>();
        private byte[] current = new byte[0];
        private int pos;
        private long written;

        ChunkWriter(long size) {
            this.size = size;
        }

        boolean full() {
            return written >= size;
        }

        /** The pieces written so far; every piece is full, since it is sized to what is left. */
        byte[][] chunks() {
            return chunks.toArray(new byte[0][]);
        }

        ChunkWriter put(byte b) {
            if (written >= size) {
                return this;
            }
            if (pos == current.length) {
                current = new byte[(int) Math.min(Input.CHUNK, size - written)];
                chunks.add(current);
                pos = 0;
            }
            current[pos++] = b;
            written++;
            return this;
        }

        ChunkWriter ascii(String s) {
            for (int i = 0; i < s.length(); i++) {
                put((byte) s.charAt(i));
            }
            return this;
        }

        ChunkWriter word(int index) {
            for (byte b : WORD_BYTES[index]) {
                put(b);
            }
            return this;
        }

        ChunkWriter line(String s) {
            return ascii(s).newline();
        }

        ChunkWriter tab() {
            return put((byte) '\t');
        }

        ChunkWriter newline() {
            return put((byte) '\n');
        }

        ChunkWriter number(long value) {
            if (value < 0) {
                put((byte) '-');
                value = -value;
            }
            long div = 1;
            while (div <= value / 10) {
                div *= 10;
            }
            for (; div > 0; div /= 10) {
                put((byte) ('0' + (value / div) % 10));
            }
            return this;
        }

        ChunkWriter fixed(long value, int digits) {
            long div = 1;
            for (int i = 1; i < digits; i++) {
                div *= 10;
            }
            for (; div > 0; div /= 10) {
                put((byte) ('0' + (value / div) % 10));
            }
            return this;
        }
    }
}
