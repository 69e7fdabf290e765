package com.aiplatform.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Acceptance of issue 12 item 1, through {@code backupctl} in child JVMs: a multi-GB directory
 * backup (sparse files: no disk used for the source, zstd keeps the stored bytes small) is hit
 * by SIGTERM, SIGINT and SIGKILL at several points. SIGTERM/SIGINT exit 143/130 with one line
 * saying what was abandoned and leave neither lock nor partial file, so the next backup runs at
 * once; after SIGKILL the next backup takes the dead local owner's lock over at once, a lock of
 * "another host" blocks until its short lease expires or {@code backupctl unlock}, and
 * {@code prune} removes the partial files. Nothing partial is ever listed as a backup.
 */
class InterruptedBackupCtlIT {
    private static final long BIG = 6L << 30; // per file; two files
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    private Path data;
    private Path storage;
    private Path config;
    private int runs;

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createDirectories(tmp.resolve("data"));
        storage = Files.createDirectories(tmp.resolve("storage"));
        config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                compression: zstd
                lock-lease: 8s
                retention:
                  keep-last: 100
                  debris-grace: 1s
                sources:
                  - { name: big, type: directory, path: %s }
                """.formatted(storage, data));
    }

    @Test
    void sigtermAndSigintAbortCleanlyAndTheNextBackupRunsAtOnce() throws Exception {
        for (String signal : List.of("TERM", "INT")) {
            for (long delayMillis : new long[] {0, 2_000}) {
                makeBig();
                List<Path> before = partials();
                Process child = start("backup", "big");
                awaitNewPartialUpload(child, before);
                Thread.sleep(delayMillis);
                long sent = System.nanoTime();
                signal(child, signal);
                assertThat(child.waitFor(90, TimeUnit.SECONDS)).as("stops after SIG%s", signal).isTrue();
                long stopMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);
                String err = Files.readString(errOf(runs));
                assertThat(child.exitValue()).as("exit code after SIG%s; stderr: %s", signal, err)
                        .isEqualTo("TERM".equals(signal) ? 143 : 130);
                assertThat(err.lines().filter(l -> !l.isBlank()).toList()).as("one line on stderr")
                        .singleElement().satisfies(line -> assertThat(line)
                                .matches("backupctl: interrupted \\(SIG" + signal + "\\): backup \\S+ of big "
                                        + "abandoned, nothing committed"));
                System.out.printf("SIG%s after %d ms: stopped in %d ms%n", signal, delayMillis, stopMillis);
                assertThat(partials()).as("uploads aborted").isEmpty();
                assertThat(storage.resolve("big/locks/exclusive.lock")).as("lock released").doesNotExist();
                assertThat(listedIds()).as("nothing partial listed").hasSize(committedBackups());

                makeSmall();
                Result next = run("backup", "big");
                assertThat(next.code).as("next backup at once; %s", next).isZero();
            }
        }
        assertThat(listedIds()).hasSize(4);
        assertThat(run("verify", "big", "latest").code).isZero();
    }

    @Test
    void afterSigkillTheLockIsTakenOverOrUnlockedAndPruneRemovesThePartials() throws Exception {
        // 1. a dead owner on this host: the next backup takes its lock over at once
        killMidBackup(0);
        assertThat(storage.resolve("big/locks/exclusive.lock")).as("SIGKILL leaves the lock").exists();
        assertThat(partials()).as("SIGKILL leaves partial uploads").isNotEmpty();
        makeSmall();
        Result next = run("backup", "big");
        assertThat(next.code).as("dead local owner taken over at once; %s", next).isZero();

        // 2. the same, as if the killed process had run on another host: refused until the lease expires
        killMidBackup(1_500);
        pretendOtherHost();
        makeSmall();
        Result refused = run("backup", "big");
        assertThat(refused.code).as("%s", refused).isEqualTo(1);
        assertThat(refused.err).contains("is locked by backup").contains("host elsewhere")
                .contains("backupctl unlock big");
        Result unlockRefused = run("unlock", "big");
        assertThat(unlockRefused.code).as("%s", unlockRefused).isEqualTo(1);
        assertThat(unlockRefused.err).contains("live").contains("host elsewhere").contains("since")
                .contains("last refresh");
        awaitLeaseExpiry();
        Result afterLease = run("backup", "big");
        assertThat(afterLease.code).as("lease expired: taken over; %s", afterLease).isZero();

        // 3. killed on "another host" again, removed by unlock once stale
        killMidBackup(500);
        pretendOtherHost();
        awaitLeaseExpiry();
        Result unlocked = run("unlock", "big");
        assertThat(unlocked.code).as("%s", unlocked).isZero();
        assertThat(unlocked.out).contains("removed the lock of big held by backup").contains("host elsewhere");
        assertThat(storage.resolve("big/locks/exclusive.lock")).doesNotExist();
        makeSmall();
        assertThat(run("backup", "big").code).isZero();

        // the partial files of the three kills are debris: reported with size and age, never listed as backups
        List<Path> leftovers = partials();
        assertThat(leftovers).as("partial uploads of the killed runs").isNotEmpty();
        Thread.sleep(1_100); // the debris grace of the configuration
        Result list = run("list", "big");
        assertThat(list.code).isZero();
        assertThat(list.out.lines().filter(l -> l.startsWith("big ")).count()).isEqualTo(3);
        assertThat(list.err).contains("debris of big: uncommitted backup").contains("partial upload(s)")
                .contains("last written");
        assertThat(listedIds()).hasSize(3);
        Result plan = run("prune", "big", "--dry-run");
        assertThat(plan.code).isZero();
        assertThat(plan.out).contains("would remove debris of big").contains("partial upload(s)");
        Result planJson = run("prune", "big", "--dry-run", "--json");
        JsonNode debris = JSON.readTree(planJson.out).get(0).get("debris");
        long partialCount = 0;
        for (JsonNode d : debris) {
            for (JsonNode p : d.get("partials")) {
                partialCount++;
                assertThat(p.get("size").asLong()).isNotNegative();
                assertThat(p.get("lastModified").asText()).isNotEmpty();
            }
        }
        assertThat(partialCount).isEqualTo(leftovers.size());
        assertThat(partials()).as("a dry run removes nothing").hasSameSizeAs(leftovers);
        Result prune = run("prune", "big");
        assertThat(prune.code).as("%s", prune).isZero();
        assertThat(partials()).as("prune removed the partial uploads").isEmpty();
        assertThat(run("list", "big").err).doesNotContain("debris");
        assertThat(listedIds()).hasSize(3);
        assertThat(run("verify", "big", "latest").code).isZero();
    }

    private void killMidBackup(long delayMillis) throws Exception {
        makeBig();
        List<Path> before = partials();
        Process child = start("backup", "big");
        awaitNewPartialUpload(child, before);
        Thread.sleep(delayMillis);
        child.destroyForcibly();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).isEqualTo(137);
    }

    /** Rewrites the lock left by a killed process as if that process had run on another host. */
    private void pretendOtherHost() throws IOException {
        Path lock = storage.resolve("big/locks/exclusive.lock");
        JsonNode node = JSON.readTree(lock.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) node).put("host", "elsewhere");
        ((com.fasterxml.jackson.databind.node.ObjectNode) node).put("since", java.time.Instant.now().toString());
        Files.write(lock, JSON.writeValueAsBytes(node));
    }

    /** Sleeps until the lease of the lock (lock-lease: 8s, never refreshed by the killed holder) has run out. */
    private void awaitLeaseExpiry() throws Exception {
        JsonNode lock = JSON.readTree(storage.resolve("big/locks/exclusive.lock").toFile());
        assertThat(lock.get("leaseMillis").asLong()).isEqualTo(8_000);
        java.time.Instant expiry = java.time.Instant.parse(lock.get("since").asText()).plusSeconds(8);
        long wait = java.time.Duration.between(java.time.Instant.now(), expiry).toMillis() + 300;
        Thread.sleep(Math.max(0, wait));
    }

    private void makeBig() throws IOException {
        for (String name : List.of("a.bin", "b.bin")) {
            try (RandomAccessFile f = new RandomAccessFile(data.resolve(name).toFile(), "rw")) {
                f.setLength(0);
                f.setLength(BIG); // sparse: reads as zeros, takes no disk
            }
        }
    }

    private void makeSmall() throws IOException {
        for (String name : List.of("a.bin", "b.bin")) {
            try (RandomAccessFile f = new RandomAccessFile(data.resolve(name).toFile(), "rw")) {
                f.setLength(1 << 20);
            }
        }
    }

    /** Waits until the child holds the lock and has started an upload of its own. */
    private void awaitNewPartialUpload(Process child, List<Path> before) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(storage.resolve("big/locks/exclusive.lock"))
                || partials().stream().allMatch(before::contains)) {
            assertThat(child.isAlive()).as("backup still running; stderr: %s", Files.readString(errOf(runs)))
                    .isTrue();
            assertThat(System.nanoTime()).as("an upload starts within 60 s").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private List<Path> partials() throws IOException {
        if (!Files.exists(storage)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(storage)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".partial")
                    && p.toString().contains("/backups/")).toList();
        }
    }

    private int committedBackups() throws IOException {
        Path backups = storage.resolve("big/backups");
        if (!Files.exists(backups)) {
            return 0;
        }
        try (Stream<Path> ids = Files.list(backups)) {
            return (int) ids.filter(id -> Files.exists(id.resolve("manifest.json"))).count();
        }
    }

    /** Ids listed by {@code list --json}; each must be a committed backup (its manifest exists). */
    private List<String> listedIds() throws Exception {
        Result r = run("list", "big", "--json");
        assertThat(r.code).as("%s", r).isZero();
        List<String> ids = new ArrayList<>();
        for (JsonNode m : JSON.readTree(r.out)) {
            String id = m.get("backupId").asText();
            assertThat(storage.resolve("big/backups/" + id + "/manifest.json")).exists();
            ids.add(id);
        }
        return ids;
    }

    private Process start(String... args) throws IOException {
        runs++;
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"), BackupCtl.class.getName(),
                "--config", config.toString()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectOutput(tmp.resolve("out-" + runs).toFile())
                .redirectError(errOf(runs).toFile()).start();
    }

    private Path errOf(int run) {
        return tmp.resolve("err-" + run);
    }

    private Result run(String... args) throws Exception {
        Process p = start(args);
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("backupctl %s finishes", String.join(" ", args)).isTrue();
        return new Result(p.exitValue(), Files.readString(tmp.resolve("out-" + runs)), Files.readString(errOf(runs)));
    }

    private static void signal(Process child, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(child.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -%s", signal).isTrue();
    }

    private record Result(int code, String out, String err) {
    }
}
