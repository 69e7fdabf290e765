package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import com.aiplatform.backup.testkit.EmbeddedPostgresServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Acceptance 8, logical half: the overhead of our logical backup (pg_dump streamed through the
 * engine with zstd + encryption into a {@link FileSystemStorageTarget}) against plain
 * {@code pg_dump -Fc > file}, side by side in one run on the same data.
 *
 * <p>It starts an embedded PostgreSQL 15 and loads two databases of about the same size:
 * {@code pgbench} ({@code pgbench -i -s SCALE}; scale 30 is about 480 MB, but its blank-padded
 * {@code filler} column makes it compress about 1000:1, a best case for pg_dump's gzip) and
 * {@code mixed} (SCALE x 60,000 rows of md5 text, numbers and jsonb, about 560 MB, compressing
 * about 3:1 like real tables). For each it does one untimed warm-up of every variant, then
 * alternates the variants for ROUNDS rounds:
 * <ol>
 *   <li>{@code pg_dump -Fc > file} (pg_dump's default gzip compression): the baseline;</li>
 *   <li>ours as shipped ({@link LogicalBackup#DUMP_COMPRESSION} = 0): {@code pg_dump -Fc -Z0} into
 *       the engine, zstd-1 + streaming AES-GCM;</li>
 *   <li>ours with pg_dump's default gzip left on, then zstd + encryption on top.</li>
 * </ol>
 * Throughput is the database size ({@code pg_database_size}) divided by the wall-clock time, so
 * all variants share one numerator; the time of ours includes the pre-flight check, the globals,
 * the exact row counts, storing with fsync, and the manifest. Each line shows the 1-minute load
 * average: on a shared 2-core machine, figures taken under load are noisy. Needs the PostgreSQL
 * 15 client tools in {@code /usr/lib/postgresql/15/bin}, including {@code pgbench}.
 *
 * <p>Run from the repository root (arguments: scale, rounds; {@code -Dbench.datasets=pgbench} or
 * {@code =mixed} measures one dataset only):
 * <pre>
 * ./mvnw -q -B -o -pl backup-postgres test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=com.aiplatform.backup.postgres.LogicalOverheadBenchmark -Dexec.args="30 3"
 * </pre>
 */
public final class LogicalOverheadBenchmark {
    private static final String PGBENCH_DB = "pgbench";
    private static final String MIXED_DB = "mixed";
    private static final String BASELINE = "pg_dump -Fc > file";

    private LogicalOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int scale = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path bin = LogicalTestSupport.DEBIAN_15_BIN;
        for (String tool : List.of("pg_dump", "pg_dumpall", "pgbench")) {
            if (!Files.isExecutable(bin.resolve(tool))) {
                throw new IllegalStateException(tool + " not found in " + bin + "; install postgresql-client-15");
            }
        }
        Path work = Files.createTempDirectory("pg-logical-bench-");
        try (EmbeddedPostgresServer pg = EmbeddedPostgresExtension.startOnDataDirectory(work.resolve("data"),
                Map.of("max_wal_size", "4GB", "checkpoint_timeout", "30min"))) {
            System.out.printf(Locale.ROOT, "%d cores; pg_dump %s; %d rounds, variants alternating%n",
                    Runtime.getRuntime().availableProcessors(),
                    PgTools.probe("pg_dump", bin.resolve("pg_dump")).version(), rounds);
            List<String> datasets = List.of(System.getProperty("bench.datasets", PGBENCH_DB + "," + MIXED_DB)
                    .split(","));
            if (datasets.contains(PGBENCH_DB)) {
                loadPgbench(pg, bin, scale);
            }
            if (datasets.contains(MIXED_DB)) {
                loadMixed(pg, scale);
            }
            for (String db : datasets) {
                measure(pg, bin, work, db, rounds);
            }
        } finally {
            deleteTree(work);
        }
    }

    private static void loadPgbench(EmbeddedPostgresServer pg, Path bin, int scale) throws Exception {
        createDatabase(pg, PGBENCH_DB);
        long start = System.nanoTime();
        run(List.of(bin.resolve("pgbench").toString(), "-i", "-q", "-s", Integer.toString(scale),
                "-h", pg.host(), "-p", Integer.toString(pg.port()), "-U", pg.user(), PGBENCH_DB), null);
        System.out.printf(Locale.ROOT, "%s: pgbench -i -s %d, %.1f MB, loaded in %.1f s%n", PGBENCH_DB, scale,
                mb(databaseSize(pg, PGBENCH_DB)), seconds(System.nanoTime() - start));
    }

    private static void loadMixed(EmbeddedPostgresServer pg, int scale) throws Exception {
        createDatabase(pg, MIXED_DB);
        long start = System.nanoTime();
        long rows = scale * 60_000L;
        try (Connection c = pg.dataSource(MIXED_DB).getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE events AS SELECT g AS id, TIMESTAMPTZ '2026-01-01' + g * INTERVAL '1 second'"
                    + " AS at, md5(g::text) AS key, (random() * 1e6)::int AS n, jsonb_build_object('user', "
                    + "md5((g * 7)::text), 'score', random(), 'tags', jsonb_build_array(g % 17, g % 31)) AS payload,"
                    + " md5(random()::text) || ' ' || md5(random()::text) AS note"
                    + " FROM generate_series(1, " + rows + ") g");
            st.execute("ALTER TABLE events ADD PRIMARY KEY (id)");
            st.execute("VACUUM ANALYZE events");
        }
        System.out.printf(Locale.ROOT, "%s: %d rows of text, numbers and jsonb, %.1f MB, loaded in %.1f s%n",
                MIXED_DB, rows, mb(databaseSize(pg, MIXED_DB)), seconds(System.nanoTime() - start));
    }

    private static void createDatabase(EmbeddedPostgresServer pg, String db) throws Exception {
        try (Connection c = pg.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + db);
        }
    }

    private static void measure(EmbeddedPostgresServer pg, Path bin, Path work, String db, int rounds)
            throws Exception {
        long dbBytes = databaseSize(pg, db);
        System.out.printf(Locale.ROOT, "%n== %s (%.1f MB) ==%n", db, mb(dbBytes));
        PostgresConfig config = PostgresConfig.builder("bench-pg").host(pg.host()).port(pg.port())
                .user(pg.user()).database(db).mode(PostgresConfig.Mode.LOGICAL).toolsDir(bin).build();
        Map<String, Variant> variants = new LinkedHashMap<>();
        variants.put(BASELINE, new PlainDump(bin, pg, db, work.resolve("plain.dump")));
        variants.put("ours: -Z0 + zstd + enc", new Ours(config, work, 0));
        variants.put("ours: gzip + zstd + enc", new Ours(config, work, LogicalBackup.PG_DUMP_DEFAULT_COMPRESSION));

        for (Map.Entry<String, Variant> v : variants.entrySet()) {
            Run warm = v.getValue().run();
            System.out.printf(Locale.ROOT, "warm-up  %-24s %6.2f s  output %7.1f MB%n", v.getKey(),
                    warm.seconds(), mb(warm.outputBytes()));
        }
        Map<String, List<Run>> results = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            for (Map.Entry<String, Variant> v : variants.entrySet()) {
                Run r = v.getValue().run();
                results.computeIfAbsent(v.getKey(), k -> new ArrayList<>()).add(r);
                System.out.printf(Locale.ROOT, "round %d  %-24s %6.2f s  %6.1f MB/s  output %7.1f MB   load %s%n",
                        round, v.getKey(), r.seconds(), mb(dbBytes) / r.seconds(), mb(r.outputBytes()), load());
            }
        }
        double baseline = median(results.get(BASELINE));
        System.out.printf(Locale.ROOT, "%-24s %10s %10s %10s %12s%n", "median of " + rounds, "seconds", "MB/s",
                "output MB", "vs pg_dump");
        for (Map.Entry<String, List<Run>> e : results.entrySet()) {
            double med = median(e.getValue());
            long out = e.getValue().get(e.getValue().size() - 1).outputBytes();
            System.out.printf(Locale.ROOT, "%-24s %10.2f %10.1f %10.1f %11.2fx  (%+.1f%% time)%n", e.getKey(), med,
                    mb(dbBytes) / med, mb(out), med / baseline, (med / baseline - 1) * 100);
        }
    }

    /** The 1-minute load average, to judge how noisy a figure is. */
    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    /** One timed run: wall-clock seconds and bytes written (stored bytes for ours). */
    record Run(double seconds, long outputBytes) { }

    interface Variant {
        Run run() throws Exception;
    }

    /** {@code pg_dump -Fc > file}, as an operator would run it. */
    record PlainDump(Path bin, EmbeddedPostgresServer pg, String db, Path file) implements Variant {
        @Override
        public Run run() throws Exception {
            Files.deleteIfExists(file);
            long start = System.nanoTime();
            LogicalOverheadBenchmark.run(List.of(bin.resolve("pg_dump").toString(), "-Fc", "-h", pg.host(),
                    "-p", Integer.toString(pg.port()), "-U", pg.user(), db), file);
            double s = seconds(System.nanoTime() - start);
            long size = Files.size(file);
            Files.delete(file);
            return new Run(s, size);
        }
    }

    /** Our engine with zstd + encryption to the filesystem, with the given pg_dump compression. */
    static final class Ours implements Variant {
        private final PostgresConfig config;
        private final Path work;
        private final int dumpCompression;
        private int n;

        Ours(PostgresConfig config, Path work, int dumpCompression) {
            this.config = config;
            this.work = work;
            this.dumpCompression = dumpCompression;
        }

        @Override
        public Run run() throws Exception {
            Path storage = work.resolve("storage-" + dumpCompression + "-" + (n++));
            try (BackupEngine engine = BackupEngine.builder()
                    .storage(new FileSystemStorageTarget("local", storage, true))
                    .compression(Compression.ZSTD)
                    .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "bench"))
                    .provider(new CompressionProvider(dumpCompression))
                    .discoverProviders(false)
                    .build()) {
                long start = System.nanoTime();
                Manifest m = engine.backup(config);
                double s = seconds(System.nanoTime() - start);
                if (Boolean.getBoolean("bench.verbose")) {
                    m.artifacts().forEach(a -> System.out.printf(Locale.ROOT, "    %s: raw %.1f MB, stored %.1f MB%n",
                            a.name(), mb(a.rawSize()), mb(a.storedSize())));
                    System.out.println("    " + m.contentSummary());
                }
                return new Run(s, m.storedBytes());
            } finally {
                deleteTree(storage);
            }
        }
    }

    /** The real provider, except that its logical backups use a chosen {@code pg_dump -Z}. */
    static final class CompressionProvider implements BackupProvider<PostgresConfig> {
        private final PostgresBackupProvider real = new PostgresBackupProvider();
        private final int dumpCompression;

        CompressionProvider(int dumpCompression) {
            this.dumpCompression = dumpCompression;
        }

        @Override
        public String engine() {
            return real.engine();
        }

        @Override
        public Class<PostgresConfig> configType() {
            return real.configType();
        }

        @Override
        public PostgresConfig parseConfig(String name, Settings settings) {
            return real.parseConfig(name, settings);
        }

        @Override
        public List<Problem> check(PostgresConfig config) {
            return real.check(config);
        }

        @Override
        public BackupSession openBackup(PostgresConfig config, BackupContext context) {
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    return LogicalBackup.run(config, sink, dumpCompression);
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(PostgresConfig config, RestoreOptions options) {
            return real.openRestore(config, options);
        }
    }

    private static long databaseSize(EmbeddedPostgresServer pg, String db) throws Exception {
        try (Connection c = pg.dataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_database_size('" + db + "')")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Runs a command to completion; its standard output goes to {@code stdoutFile} or is discarded. */
    private static void run(List<String> command, Path stdoutFile) throws Exception {
        Path err = Files.createTempFile("bench-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectError(err.toFile());
            pb.redirectOutput(stdoutFile == null ? ProcessBuilder.Redirect.DISCARD
                    : ProcessBuilder.Redirect.to(stdoutFile.toFile()));
            Process p = pb.start();
            p.getOutputStream().close();
            int exit = p.waitFor();
            if (exit != 0) {
                throw new IOException(command.get(0) + " exited with " + exit + ": " + Files.readString(err));
            }
        } finally {
            Files.deleteIfExists(err);
        }
    }

    private static double median(List<Run> runs) {
        List<Double> s = runs.stream().map(Run::seconds).sorted().toList();
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static double mb(long bytes) {
        return bytes / 1e6;
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
