package com.aiplatform.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12, acceptance 2, through {@link BackupCtl#run}: a damaged newest backup (verify failed)
 * is never kept in place of the newest good one by {@code prune}, {@code rpo} reports the good
 * one's point, {@code restore latest} picks the good one and says it skipped the damaged one;
 * an edited manifest is listed as damaged. And {@code verify} with a keyset that cannot decrypt.
 */
class KnownBadCommandsTest {
    @TempDir
    Path tmp;

    Path data;
    Path storage;
    Path config;

    record Result(int code, String out, String err) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(out);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createDirectories(tmp.resolve("etc"));
        DirectoryDemoSource.create(data, 1);
        storage = Files.createDirectories(tmp.resolve("backups"));
        // every bucket rule would pick the newest backup of the day
        config = Files.writeString(tmp.resolve("backup.yaml"), """
                storage:
                  - { name: local, type: filesystem, path: %s }
                retention: { keep-daily: 1, keep-weekly: 1, keep-monthly: 1 }
                sources:
                  - { name: cfg, type: directory, path: %s }
                """.formatted(storage, data));
    }

    private Result ctl(String... args) {
        List<String> all = new ArrayList<>(List.of("--config", config.toString()));
        all.addAll(List.of(args));
        return run(all.toArray(String[]::new));
    }

    private String backup() throws IOException {
        Result r = ctl("backup", "cfg");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode list = ctl("list", "cfg", "--json").json();
        return list.get(list.size() - 1).get("backupId").asText();
    }

    private void damageArtifact(String id) throws IOException {
        JsonNode manifest = null;
        for (JsonNode m : ctl("list", "cfg", "--json").json()) {
            if (m.get("backupId").asText().equals(id)) {
                manifest = m;
            }
        }
        assertThat(manifest).isNotNull();
        Path file = storage.resolve("cfg/backups").resolve(id).resolve(manifest.get("artifacts").get(0).get("name")
                .asText());
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            long at = raf.length() / 2;
            raf.seek(at);
            int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0x5a);
        }
    }

    private static JsonNode entry(JsonNode array, String id) {
        for (JsonNode n : array) {
            if (n.get("backupId").asText().equals(id)) {
                return n;
            }
        }
        throw new AssertionError(id + " not in " + array);
    }

    @Test
    void aDamagedNewestBackupNeverTakesThePlaceOfTheGoodOne() throws Exception {
        String good = backup();
        Files.writeString(data.resolve("later.txt"), "written after the first backup\n");
        String bad = backup();
        assertThat(bad).isNotEqualTo(good);
        JsonNode goodManifest = entry(ctl("list", "cfg", "--json").json(), good);
        Instant goodPoint = Instant.parse(goodManifest.get("consistentPoint").get("time").asText());
        damageArtifact(bad);

        Result verify = ctl("verify", "cfg", "latest");
        assertThat(verify.code()).as(verify.err()).isEqualTo(BackupCtl.INTEGRITY);

        // listed, marked, with the reason and the time of the failed check
        Result list = ctl("list", "cfg");
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.out().lines().filter(l -> l.contains(bad))).singleElement().asString().contains("KNOWN-BAD");
        assertThat(list.out().lines().filter(l -> l.contains(good))).singleElement().asString().endsWith("ok");
        assertThat(list.err()).contains(bad, "known-bad", "its latest verify", "failed", "SHA-256");
        JsonNode listed = entry(ctl("list", "cfg", "--json").json(), bad);
        assertThat(listed.get("condition").asText()).isEqualTo("known-bad");
        assertThat(listed.get("reason").asText()).contains("verify");
        assertThat(listed.get("lastCheck").get("passed").asBoolean()).isFalse();
        assertThat(Instant.parse(listed.get("lastCheck").get("time").asText())).isAfter(goodPoint);
        assertThat(entry(ctl("list", "cfg", "--json").json(), good).get("condition").asText()).isEqualTo("ok");

        // prune: the buckets go to the good one; the damaged one fills none
        Result prune = ctl("prune", "cfg", "--json");
        assertThat(prune.code()).as(prune.err()).isZero();
        JsonNode plan = prune.json().get(0).get("backups");
        JsonNode keptGood = entry(plan, good);
        assertThat(keptGood.get("keep").asBoolean()).isTrue();
        assertThat(keptGood.get("reasons").toString()).contains("daily ", "weekly ", "monthly ");
        JsonNode planBad = entry(plan, bad);
        assertThat(planBad.get("condition").asText()).isEqualTo("known-bad");
        assertThat(planBad.get("reasons").toString()).doesNotContain("\"daily ", "\"weekly ", "\"monthly ")
                .contains("kept as evidence", "fills no rule");
        assertThat(ctl("list", "cfg", "--json").json()).extracting(n -> n.get("backupId").asText()).contains(good);

        // rpo: the good one's point
        Result rpo = ctl("rpo", "cfg", "--json");
        assertThat(rpo.code()).as(rpo.err()).isIn(BackupCtl.OK, RpoCommand.BREACHED);
        assertThat(Instant.parse(rpo.json().get(0).get("latestPoint").asText())).isEqualTo(goodPoint);

        // restore latest: the good one, saying it skipped the damaged one
        Path target = tmp.resolve("restored");
        Result restore = ctl("restore", "cfg", "latest", "--target-dir", target.toString());
        assertThat(restore.code()).as(restore.err()).isZero();
        assertThat(restore.out()).contains("restored cfg " + good);
        assertThat(restore.err().lines()).singleElement().asString().contains("skipped", bad, "known-bad");
        assertThat(target.resolve("later.txt")).doesNotExist();
        Files.delete(data.resolve("later.txt"));
        assertThat(TreeSnapshot.of(data).differences(TreeSnapshot.of(target))).isEmpty();

        // by id it is still verified first and refused
        Result byId = ctl("restore", "cfg", bad, "--target-dir", tmp.resolve("bad").toString());
        assertThat(byId.code()).isEqualTo(BackupCtl.INTEGRITY);
        assertThat(byId.err()).contains("nothing was restored");
    }

    @Test
    void aHandEditedManifestIsListedAsDamagedWithTheReason() throws Exception {
        String good = backup();
        String edited = backup();
        Path manifest = storage.resolve("cfg/backups").resolve(edited).resolve("manifest.json");
        String text = Files.readString(manifest);
        assertThat(text).contains("\"directory\"");
        Files.writeString(manifest, text.replace("\"directory\"", "\"Directory\""));

        Result list = ctl("list", "cfg");
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.out().lines().filter(l -> l.contains(edited))).singleElement().asString().contains("DAMAGED");
        assertThat(list.err()).contains(edited, "damaged", "manifest.json", "was edited");

        JsonNode json = ctl("list", "cfg", "--json").json();
        assertThat(json).hasSize(2);
        JsonNode damaged = entry(json, edited);
        assertThat(damaged.get("condition").asText()).isEqualTo("damaged");
        assertThat(damaged.get("reason").asText()).contains("manifest.json", "was edited");
        assertThat(damaged.get("source").asText()).isEqualTo("cfg");
        assertThat(entry(json, good).get("condition").asText()).isEqualTo("ok");

        // prune keeps it (it may be a good backup whose manifest was touched) and says so
        Result prune = ctl("prune", "cfg");
        assertThat(prune.code()).as(prune.err()).isZero();
        assertThat(prune.out()).contains("damaged, never deleted by prune");
        assertThat(prune.out().lines().filter(l -> l.startsWith(edited))).singleElement().asString()
                .contains("keep (damaged)");
        assertThat(manifest).exists();

        Result restore = ctl("restore", "cfg", "latest", "--target-dir", tmp.resolve("r").toString());
        assertThat(restore.code()).as(restore.err()).isZero();
        assertThat(restore.out()).contains("restored cfg " + good);
        assertThat(restore.err()).contains("skipped", edited, "damaged");
    }

    @Test
    void verifyWithAKeysetThatCannotDecryptSaysSoAndExitsOne() throws Exception {
        Path keyA = tmp.resolve("a.json");
        Path keyB = tmp.resolve("b.json");
        assertThat(run("keygen", "--out", keyA.toString()).code()).isZero();
        assertThat(run("keygen", "--out", keyB.toString()).code()).isZero();
        String yaml = """
                storage:
                  - { name: local, type: filesystem, path: %s }
                encryption:
                  keyset-file: %s
                sources:
                  - { name: cfg, type: directory, path: %s }
                """;
        Path configA = Files.writeString(tmp.resolve("a.yaml"), yaml.formatted(storage, keyA, data));
        Path configB = Files.writeString(tmp.resolve("b.yaml"), yaml.formatted(storage, keyB, data));
        assertThat(run("--config", configA.toString(), "backup", "cfg").code()).isZero();
        String keyId = run("--config", configA.toString(), "list", "cfg", "--json").json().get(0).get("artifacts")
                .get(0).get("keyId").asText();
        assertThat(keyId).startsWith("tink-");

        Result verify = run("--config", configB.toString(), "verify", "cfg", "latest");
        assertThat(verify.code()).as(verify.out() + verify.err()).isEqualTo(BackupCtl.FAILED);
        assertThat(verify.out()).contains("ok, but key id " + keyId + " missing from the configured keyset");
        assertThat(verify.err()).startsWith("backupctl: ").contains("hashes ok", keyId, "cannot decrypt");
        assertThat(verify.err().lines().count()).isEqualTo(1);
        Result json = run("--config", configB.toString(), "verify", "cfg", "latest", "--json");
        assertThat(json.code()).isEqualTo(BackupCtl.FAILED);
        assertThat(json.json().get("ok").asBoolean()).isFalse();
        assertThat(json.json().get("hashesOk").asBoolean()).isTrue();
        assertThat(json.json().get("missingKeyIds").get(0).asText()).isEqualTo(keyId);

        // a key problem is not damage: the backup is not marked known-bad, and the right key verifies it
        assertThat(run("--config", configA.toString(), "list", "cfg", "--json").json().get(0).get("condition")
                .asText()).isEqualTo("ok");
        Result right = run("--config", configA.toString(), "verify", "cfg", "latest");
        assertThat(right.code()).as(right.err()).isZero();
        assertThat(right.out()).contains("verified cfg");
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
