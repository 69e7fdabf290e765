package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.postgres.PhysicalTestSupport.Server;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import com.aiplatform.backup.testkit.EmbeddedPostgresServer;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Physical base backup through a real {@link BackupEngine} onto filesystem storage, restored
 * into a fresh directory, and a server started on it: every table's rows (count and checksum)
 * match, on PostgreSQL 15 and 17. Also: corrupted artifacts and occupied targets are refused
 * before anything is written.
 */
class PhysicalRoundTripIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    @Test
    void roundTripOnPostgres15() throws Exception {
        Server source = new Server("127.0.0.1", PG.port());
        roundTrip(source, "15.", dir -> {
            EmbeddedPostgresServer s = EmbeddedPostgresExtension.startOnDataDirectory(dir);
            return new Started(new Server("127.0.0.1", s.port()), s);
        });
    }

    @Test
    void roundTripOnPostgres17() throws Exception {
        try (EmbeddedPostgres pg17 = PhysicalTestSupport.postgres17().start()) {
            Server source = new Server("127.0.0.1", pg17.getPort());
            roundTrip(source, "17.", dir -> {
                EmbeddedPostgres s = PhysicalTestSupport.postgres17().setDataDirectory(dir)
                        .setCleanDataDirectory(false).start();
                return new Started(new Server("127.0.0.1", s.getPort()), s);
            });
        }
    }

    /** A server started on a restored directory. */
    record Started(Server server, AutoCloseable handle) { }

    @FunctionalInterface
    interface Starter {
        Started start(Path dataDirectory) throws Exception;
    }

    private void roundTrip(Server source, String versionPrefix, Starter starter) throws Exception {
        Path tsA = Files.createDirectories(tmp.resolve("source-ts-a"));
        Path tsB = Files.createDirectories(tmp.resolve("source-ts-b"));
        PhysicalTestSupport.createDataSet(source, tsA, tsB);
        try {
            roundTrip(source, versionPrefix, starter, tsA, tsB);
        } finally {
            // the 15 server is shared with the other tests, and its tablespace folders go with this test's @TempDir
            PhysicalTestSupport.dropDataSet(source);
        }
    }

    private void roundTrip(Server source, String versionPrefix, Starter starter, Path tsA, Path tsB)
            throws Exception {
        String oidA = source.queryString("postgres", "SELECT oid FROM pg_tablespace WHERE spcname = 'ts_a'");
        String oidB = source.queryString("postgres", "SELECT oid FROM pg_tablespace WHERE spcname = 'ts_b'");
        Map<String, String> before = PhysicalTestSupport.fingerprint(source);
        long sequenceBefore = Long.parseLong(source.queryString("postgres", "SELECT last_value FROM app.invoice_seq"));
        String systemId = source.queryString("postgres", "SELECT system_identifier FROM pg_control_system()");

        PostgresConfig config = source.config("main-pg").build();
        // above the exact-count limit the planner's estimate is recorded, and the table listed as estimated
        source.execute("postgres", "ANALYZE ml.embeddings");
        PostgresRowCounts.Summary cheap = PostgresRowCounts.collect(config, 50_000);
        assertThat(cheap.estimated()).containsExactly("ml.embeddings");
        assertThat(cheap.counts().get("ml.embeddings")).isBetween(90_000L, 110_000L);
        assertThat(cheap.counts()).containsEntry("app.customers", 1000L);

        Path restored = tmp.resolve("restored/data");
        Path restoredTsA = tmp.resolve("elsewhere/ts-a");
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("store"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            assertThat(engine.check(config)).isEmpty();
            long t0 = System.nanoTime();
            Manifest m = engine.backup(config);
            System.out.printf("base backup of PostgreSQL %s: %d ms, %d raw bytes%n", versionPrefix,
                    (System.nanoTime() - t0) / 1_000_000, m.rawBytes());

            // written after the backup: must not be in the restored server
            source.execute("postgres", "INSERT INTO app.customers (name, email) VALUES ('late', 'late@example.com')",
                    "DELETE FROM ml.embeddings WHERE id <= 10");

            assertThat(m.kind()).isEqualTo(BackupKind.FULL);
            assertThat(m.method()).isEqualTo(PostgresBackupProvider.METHOD_PHYSICAL);
            assertThat(m.artifacts()).extracting(ArtifactEntry::name)
                    .containsExactlyInAnyOrder("base.tar", oidA + ".tar", oidB + ".tar", "backup_manifest");
            assertThat(m.metadata()).containsEntry("system-identifier", systemId)
                    .containsEntry("timeline", "1")
                    .containsEntry("wal-segment-size", Long.toString(16L << 20))
                    .containsKeys("start-lsn", "stop-lsn", "label", "row-counts");
            assertThat(m.metadata().get("server-version")).startsWith(versionPrefix);
            assertThat(m.metadata().get("tablespaces")).contains(oidA + "=" + tsA, oidB + "=" + tsB);
            assertThat(m.consistentPoint().position()).isEqualTo(m.metadata().get("stop-lsn"))
                    .matches("[0-9A-F]+/[0-9A-F]+");
            assertThat(WalNames.parseLsn(m.metadata().get("stop-lsn")))
                    .isGreaterThan(WalNames.parseLsn(m.metadata().get("start-lsn")));
            assertThat(m.contentSummary()).isEqualTo(PhysicalTestSupport.counts(before))
                    .containsEntry("ml.embeddings", 100_000L)
                    .containsEntry("public.archived", 3000L)
                    .containsEntry("analytics/public.events", 5000L)
                    .doesNotContainKey("public.scratch");

            long t1 = System.nanoTime();
            engine.restore(config, "latest", new RestoreOptions(Optional.of(restored), false,
                    Map.of("tablespace-" + oidA, restoredTsA.toString())));
            System.out.printf("restore of PostgreSQL %s backup: %d ms%n", versionPrefix,
                    (System.nanoTime() - t1) / 1_000_000);
        }

        Path defaultTsB = tmp.resolve("restored/data-tablespaces").resolve(oidB);
        assertThat(Files.getPosixFilePermissions(restored)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        assertThat(restored.resolve("backup_manifest")).isRegularFile();
        assertThat(restored.resolve("backup_label")).isRegularFile();
        assertThat(Files.readSymbolicLink(restored.resolve("pg_tblspc").resolve(oidA))).isEqualTo(restoredTsA);
        assertThat(Files.readSymbolicLink(restored.resolve("pg_tblspc").resolve(oidB))).isEqualTo(defaultTsB);
        assertThat(Files.readString(restored.resolve("tablespace_map")))
                .contains(oidA + " " + restoredTsA, oidB + " " + defaultTsB).doesNotContain(tsA.toString());
        assertThat(restoredTsA).isDirectoryContaining(p -> p.getFileName().toString().startsWith("PG_"));
        assertThat(defaultTsB).isDirectoryContaining(p -> p.getFileName().toString().startsWith("PG_"));
        try (Stream<Path> leftovers = Files.list(restored.getParent())) {
            assertThat(leftovers.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
        }

        long t2 = System.nanoTime();
        Started started = starter.start(restored);
        try {
            System.out.printf("server on the restored PostgreSQL %s directory started in %d ms%n", versionPrefix,
                    (System.nanoTime() - t2) / 1_000_000);
            Server copy = started.server();
            assertThat(PhysicalTestSupport.fingerprint(copy)).isEqualTo(before);
            assertThat(copy.queryString("postgres", "SELECT pg_tablespace_location(oid) FROM pg_tablespace"
                    + " WHERE spcname = 'ts_a'")).isEqualTo(restoredTsA.toString());
            // sequences may jump ahead after recovery (they are WAL-logged in batches), never back
            assertThat(Long.parseLong(copy.queryString("postgres", "SELECT last_value FROM app.invoice_seq")))
                    .isGreaterThanOrEqualTo(sequenceBefore);
            assertThat(copy.queryString("postgres", "SELECT count(*) FROM app.customers WHERE email = 'c500@example.com'"))
                    .isEqualTo("1");
            assertThat(copy.queryString("postgres", "SELECT length(body) FROM ml.documents WHERE id = 1"))
                    .isEqualTo("640000");
            assertThat(copy.queryString("postgres", "SELECT count(*) FROM public.scratch")).isEqualTo("0");
            assertThat(copy.queryString("postgres", "SELECT system_identifier FROM pg_control_system()"))
                    .isEqualTo(systemId);
            // the restored server is writable and independent of the source
            copy.execute("postgres", "INSERT INTO public.archived VALUES (999999, 'after restore')");
        } finally {
            started.handle().close();
        }
        assertThat(source.queryString("postgres", "SELECT count(*) FROM public.archived WHERE id = 999999"))
                .isEqualTo("0");
    }

    @Test
    void corruptedBaseBackupIsRefusedBeforeTheTargetIsTouched() throws Exception {
        Server source = new Server("127.0.0.1", PG.port());
        PostgresConfig config = source.config("corrupt-pg").build();
        Path store = tmp.resolve("store");
        Path target = tmp.resolve("restore/data");
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", store, true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            Manifest m = engine.backup(config);
            Path stored = store.resolve("corrupt-pg/backups").resolve(m.backupId().value()).resolve("base.tar");
            try (RandomAccessFile f = new RandomAccessFile(stored.toFile(), "rw")) {
                long at = f.length() / 2;
                f.seek(at);
                int b = f.read();
                f.seek(at);
                f.write(b ^ 0x5a);
            }
            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), RestoreOptions.intoDirectory(target)))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("base.tar")
                    .satisfies(e -> assertThat(((IntegrityException) e).artifact()).isEqualTo("base.tar"));
        }
        assertThat(target).doesNotExist();
        if (Files.exists(target.getParent())) {
            try (Stream<Path> s = Files.list(target.getParent())) {
                assertThat(s).isEmpty();
            }
        }
    }

    @Test
    void occupiedTargetIsRefusedAndLeftAlone() throws Exception {
        Server source = new Server("127.0.0.1", PG.port());
        PostgresConfig config = source.config("occupied-pg").build();
        Path target = Files.createDirectories(tmp.resolve("occupied"));
        Files.writeString(target.resolve("keep.txt"), "precious");
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("store"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            engine.backup(config);
            assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(target)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not empty");
            assertThatThrownBy(() -> engine.restore(config, "latest",
                    new RestoreOptions(Optional.empty(), false, Map.of())))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("target data directory");
            // with overwrite, the old content is replaced entirely
            engine.restore(config, "latest", RestoreOptions.intoDirectory(target).withOverwrite(true));
        }
        assertThat(target.resolve("keep.txt")).doesNotExist();
        assertThat(target.resolve("PG_VERSION")).isRegularFile();
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
        }
    }
}
