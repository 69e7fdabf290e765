package com.aiplatform.backup.cli;

import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A physical PostgreSQL restore by {@code backupctl} killed with SIGKILL while it fills its
 * staging folder leaves that folder (with its owner marker) beside the target; the next restore
 * into the same target removes it and succeeds.
 */
class KilledPhysicalRestoreIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    @Test
    void theNextRestoreRemovesTheStagingOfAKilledOne() throws Exception {
        try (Connection c = PG.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("drop table if exists killed_restore_filler");
            s.execute("create table killed_restore_filler as select g, md5(g::text) || md5((g + 1)::text) as v "
                    + "from generate_series(1, 1500000) g"); // ~150 MB, so the restore takes a while
        }
        try {
            Path storage = Files.createDirectories(tmp.resolve("storage"));
            Path config = Files.writeString(tmp.resolve("backup.yaml"), """
                    storage:
                      - { name: local, type: filesystem, path: %s }
                    compression: lz4
                    sources:
                      - { name: pg, type: postgres, url: "postgresql://127.0.0.1:%d/postgres", user: %s, mode: physical }
                    """.formatted(storage, PG.port(), PG.user()));
            assertThat(inProcess(config, "backup", "pg")).isZero();

            Path target = tmp.resolve("restored/pgdata");
            Path staging = null;
            for (int attempt = 0; attempt < 5 && staging == null; attempt++) {
                Process child = start(config, attempt, "restore", "pg", "latest", "--target-dir", target.toString());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (child.isAlive() && stagingFolders(target).isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
                child.destroyForcibly();
                assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
                List<Path> left = stagingFolders(target);
                if (child.exitValue() == 137 && !left.isEmpty()) {
                    staging = left.get(0);
                } else if (Files.exists(target)) {
                    PhysicalRestoreCleanup.delete(target); // finished before the kill: try again
                }
            }
            assertThat(staging).as("a restore was killed while staging").isNotNull();
            Path marker = staging.resolveSibling(staging.getFileName() + ".owner");
            assertThat(marker).as("the staging folder names its owner").exists();
            assertThat(target).as("nothing half-restored in place").doesNotExist();

            assertThat(inProcess(config, "restore", "pg", "latest", "--target-dir", target.toString())).isZero();
            assertThat(target.resolve("PG_VERSION")).exists();
            assertThat(staging).as("the killed restore's staging was removed").doesNotExist();
            assertThat(marker).doesNotExist();
            assertThat(stagingFolders(target)).isEmpty();
        } finally {
            try (Connection c = PG.dataSource().getConnection(); Statement s = c.createStatement()) {
                s.execute("drop table if exists killed_restore_filler");
            }
        }
    }

    private static List<Path> stagingFolders(Path target) throws Exception {
        Path parent = target.getParent();
        if (!Files.isDirectory(parent)) {
            return List.of();
        }
        try (Stream<Path> list = Files.list(parent)) {
            return list.filter(p -> p.getFileName().toString().startsWith("." + target.getFileName() + ".restore-")
                    && Files.isDirectory(p)).toList();
        }
    }

    private int inProcess(Path config, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of("--config", config.toString()));
        all.addAll(List.of(args));
        int code = BackupCtl.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), all.toArray(String[]::new));
        assertThat(code).as("backupctl %s: %s", String.join(" ", args), err.toString(StandardCharsets.UTF_8))
                .isZero();
        return code;
    }

    private Process start(Path config, int attempt, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"), BackupCtl.class.getName(),
                "--config", config.toString()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("restore-" + attempt + ".log").toFile()).start();
    }

    /** Deletes a restored data directory (mode 0700 folders) between attempts. */
    private static final class PhysicalRestoreCleanup {
        static void delete(Path root) throws Exception {
            try (Stream<Path> walk = Files.walk(root)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
