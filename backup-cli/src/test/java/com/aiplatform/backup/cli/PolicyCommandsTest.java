package com.aiplatform.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code prune}, {@code rpo} and {@code drill} through {@link BackupCtl#run} with a retention block in the config. */
class PolicyCommandsTest {
    @TempDir
    Path tmp;

    Path config;

    record Result(int code, String out, String err) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(out);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        Path data = Files.createDirectories(tmp.resolve("etc"));
        DirectoryDemoSource.create(data, 1);
        Files.createDirectories(tmp.resolve("backups")); // storage folders are never created implicitly
        Files.createDirectories(tmp.resolve("offline"));
        config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                retention:
                  keep-daily: 0
                  keep-weekly: 0
                  keep-monthly: 0
                  keep-last: 2
                sources:
                  - { name: cfg, type: directory, path: %s, rpo-target: 1h }
                  - name: cfg-strict
                    type: directory
                    path: %s
                    rpo-target: 1ms
                    retention: { keep-last: 1, keep-daily: 0, keep-weekly: 0, keep-monthly: 0 }
                """.formatted(tmp.resolve("backups"), data, data));
    }

    @Test
    void pruneDryRunThenPruneKeepsWhatThePolicySays() throws Exception {
        for (int i = 0; i < 4; i++) {
            assertThat(run("--config", config.toString(), "backup", "cfg").code()).isZero();
        }
        Result plan = run("--config", config.toString(), "prune", "cfg", "--dry-run", "--json");
        assertThat(plan.code()).as(plan.err()).isZero();
        JsonNode backups = plan.json().get(0).get("backups");
        assertThat(backups).hasSize(4);
        assertThat(backups.get(0).get("keep").asBoolean()).isTrue();
        assertThat(backups.get(0).get("reasons").get(0).asText()).isEqualTo("last 2");
        assertThat(backups.get(3).get("keep").asBoolean()).isFalse();
        assertThat(run("--config", config.toString(), "list", "cfg", "--json").json()).hasSize(4);

        Result prune = run("--config", config.toString(), "prune", "cfg");
        assertThat(prune.code()).as(prune.err()).isZero();
        assertThat(prune.out()).contains("pruned cfg: keep 2, delete 2", "last 2", "delete");
        assertThat(run("--config", config.toString(), "list", "cfg", "--json").json()).hasSize(2);
    }

    @Test
    void rpoReportsAndExitsFourOnABreach() throws Exception {
        assertThat(run("--config", config.toString(), "backup", "cfg").code()).isZero();
        assertThat(run("--config", config.toString(), "backup", "cfg-strict").code()).isZero();
        Result ok = run("--config", config.toString(), "rpo", "cfg", "--window", "1h", "--json");
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.json().get(0).get("breached").asBoolean()).isFalse();
        Result breached = run("--config", config.toString(), "rpo", "--window", "1h");
        assertThat(breached.code()).isEqualTo(RpoCommand.BREACHED);
        assertThat(breached.out()).contains("cfg-strict").contains("BREACHED");
    }

    @Test
    void drillPassesAndIsRecorded() throws Exception {
        assertThat(run("--config", config.toString(), "backup", "cfg").code()).isZero();
        Result drill = run("--config", config.toString(), "drill", "cfg", "--json");
        assertThat(drill.code()).as(drill.err()).isZero();
        assertThat(drill.json().get("passed").asBoolean()).isTrue();
        assertThat(drill.json().get("compared").asBoolean()).isTrue();
        Result human = run("--config", config.toString(), "drill", "cfg", "latest", "--target-dir",
                tmp.resolve("scratch").toString());
        assertThat(human.code()).as(human.err()).isZero();
        assertThat(human.out()).contains("passed");
        assertThat(tmp.resolve("scratch")).isDirectory();
    }

    @Test
    void copyToASecondTargetThenVerifyThere() throws Exception {
        Path two = Files.writeString(tmp.resolve("two.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: offline, type: filesystem, path: %s }
                sources:
                  - { name: cfg, type: directory, path: %s }
                """.formatted(tmp.resolve("backups"), tmp.resolve("offline"), tmp.resolve("etc")));
        assertThat(run("--config", two.toString(), "backup", "cfg").code()).isZero();
        Result copy = run("--config", two.toString(), "copy", "cfg", "latest", "--to", "offline");
        assertThat(copy.code()).as(copy.err()).isZero();
        assertThat(copy.out()).contains("copied cfg", "offline", "verified");
        Result verify = run("--config", two.toString(), "--storage", "offline", "verify", "cfg", "latest");
        assertThat(verify.code()).as(verify.err()).isZero();
    }

    @Test
    void placeFillsATierWithTheBackupsItsRulesHold() throws Exception {
        Path tiers = Files.writeString(tmp.resolve("tiers.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: offline, type: filesystem, path: %s, holds: [last] }
                retention: { keep-last: 2, keep-daily: 0, keep-weekly: 0, keep-monthly: 0 }
                sources:
                  - { name: cfg, type: directory, path: %s }
                """.formatted(tmp.resolve("backups"), tmp.resolve("offline"), tmp.resolve("etc")));
        for (int i = 0; i < 3; i++) {
            assertThat(run("--config", tiers.toString(), "backup", "cfg").code()).isZero();
        }
        Result place = run("--config", tiers.toString(), "place", "--json");
        assertThat(place.code()).as(place.err()).isZero();
        assertThat(place.json().get(0).get("copied")).hasSize(2);
        Result list = run("--config", tiers.toString(), "--storage", "offline", "list", "cfg", "--json");
        assertThat(list.json()).hasSize(2);
        Path badTier = Files.writeString(tmp.resolve("bad-tier.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                  - { name: offline, type: filesystem, path: %s, holds: [fortnightly] }
                sources:
                  - { name: cfg, type: directory, path: %s }
                """.formatted(tmp.resolve("backups"), tmp.resolve("offline"), tmp.resolve("etc")));
        Result bad = run("--config", badTier.toString(), "place");
        assertThat(bad.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(bad.err()).contains("storage[offline].holds").contains("fortnightly");
    }

    @Test
    void badRetentionIsRefusedAtLoadNamingTheField() throws Exception {
        Path bad = Files.writeString(tmp.resolve("bad.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                retention: { keep-daily: -1 }
                sources:
                  - { name: cfg, type: directory, path: %s }
                """.formatted(tmp.resolve("backups"), tmp));
        Result r = run("--config", bad.toString(), "prune", "--dry-run");
        assertThat(r.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(r.err()).contains("retention").contains("keep-daily");
        Path zone = Files.writeString(tmp.resolve("zone.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                sources:
                  - { name: cfg, type: directory, path: %s, retention: { time-zone: Mars/Olympus } }
                """.formatted(tmp.resolve("backups"), tmp));
        Result z = run("--config", zone.toString(), "prune", "--dry-run");
        assertThat(z.code()).isEqualTo(BackupCtl.USAGE);
        assertThat(z.err()).contains("sources[cfg].retention.time-zone");
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = BackupCtl.run(o, e, args);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
