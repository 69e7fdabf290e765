package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Issue 3, acceptance 8, physical half: our base backup (pure Java replication protocol, zstd-1
 * through the engine to a {@link FileSystemStorageTarget}) against
 * {@code pg_basebackup -Ft -X fetch -D - | zstd -1 > file} on the same server and data, side
 * by side in one run (alternating, after one untimed warm-up of each). Also ours with
 * encryption on. MB/s = {@code pg_database_size} of all databases / wall-clock time.
 *
 * <p>Data: {@code mixed} (SCALE x 60,000 rows of md5 text, numbers and jsonb, ~3:1 compressible,
 * about 9 MB per scale unit). Needs {@code /usr/lib/postgresql/15/bin/pg_basebackup} and {@code zstd}.
 * <pre>
 * ./mvnw -q -B -o -pl backup-postgres test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=com.aiplatform.backup.postgres.PhysicalThroughputBenchmark -Dexec.args="30 3"
 * </pre>
 */
public final class PhysicalThroughputBenchmark {
    private PhysicalThroughputBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int scale = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path basebackup = Path.of("/usr/lib/postgresql/15/bin/pg_basebackup");
        if (!Files.isExecutable(basebackup)) {
            throw new IllegalStateException("pg_basebackup not found at " + basebackup + "; install postgresql-client-15");
        }
        Path work = Files.createTempDirectory("pg-physical-bench-");
        try (io.zonky.test.db.postgres.embedded.EmbeddedPostgres pg = io.zonky.test.db.postgres.embedded.EmbeddedPostgres
                .builder().setServerConfig("max_wal_senders", "10").setServerConfig("checkpoint_timeout", "30min")
                .setServerConfig("max_wal_size", "4GB").start()) {
            PhysicalTestSupport.Server server = new PhysicalTestSupport.Server("127.0.0.1", pg.getPort());
            long t0 = System.nanoTime();
            server.execute("postgres",
                    "CREATE TABLE mixed (id bigint PRIMARY KEY, a text, b text, n numeric, doc jsonb)",
                    "INSERT INTO mixed SELECT g, md5(g::text), md5((g * 7)::text) || ' ' || (g % 977), g * 1.37, "
                            + "jsonb_build_object('k', g % 100, 'v', md5((g * 3)::text)) FROM generate_series(1, "
                            + (scale * 60_000L) + ") g",
                    "CHECKPOINT");
            long bytes = databaseBytes(server);
            System.out.printf(Locale.ROOT, "data: %.1f MB in all databases, loaded in %.1f s%n", bytes / 1e6,
                    (System.nanoTime() - t0) / 1e9);
            PostgresConfig config = server.config("bench").build();
            String peer = basebackup + " -h 127.0.0.1 -p " + pg.getPort() + " -U postgres -Ft -X fetch -c fast -D - "
                    + "| zstd -1 -q > " + work.resolve("peer.tar.zst");
            // warm-up, untimed
            peer(peer);
            ours(config, work, false);
            ours(config, work, true);
            double[] peerRates = new double[rounds];
            double[] ourRates = new double[rounds];
            double[] ourEncRates = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                peerRates[r] = bytes / 1e6 / peer(peer);
                ourRates[r] = bytes / 1e6 / ours(config, work, false);
                ourEncRates[r] = bytes / 1e6 / ours(config, work, true);
                System.out.printf(Locale.ROOT, "round %d: pg_basebackup|zstd -1 %.0f MB/s, ours zstd %.0f MB/s, "
                        + "ours zstd+AEAD %.0f MB/s (load %s)%n", r + 1, peerRates[r], ourRates[r], ourEncRates[r],
                        Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
            }
            double peerMedian = median(peerRates);
            System.out.printf(Locale.ROOT, "median: pg_basebackup|zstd -1 %.0f MB/s; ours %.0f MB/s (%.2fx); "
                    + "ours encrypted %.0f MB/s (%.2fx)%n", peerMedian, median(ourRates), median(ourRates) / peerMedian,
                    median(ourEncRates), median(ourEncRates) / peerMedian);
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static double peer(String command) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder("bash", "-o", "pipefail", "-c", command).inheritIO().start();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException("pg_basebackup | zstd failed");
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static double ours(PostgresConfig config, Path work, boolean encrypted) throws Exception {
        Path dir = work.resolve("ours-" + System.nanoTime());
        long start = System.nanoTime();
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("bench", dir, true)) {
            BackupEngine.Builder b = BackupEngine.builder().storage(storage);
            if (encrypted) {
                b.encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "bench"));
            }
            try (BackupEngine engine = b.build()) {
                Manifest m = engine.backup(config);
                if (m.artifacts().isEmpty()) {
                    throw new IllegalStateException("no artifacts");
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        return seconds;
    }

    private static long databaseBytes(PhysicalTestSupport.Server server) throws Exception {
        try (Connection c = server.connect("postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT sum(pg_database_size(datname)) FROM pg_database")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

}
