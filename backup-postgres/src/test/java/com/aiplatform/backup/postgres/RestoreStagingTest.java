package com.aiplatform.backup.postgres;

import com.aiplatform.backup.spi.ProcessOwner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A restore killed with SIGKILL leaves its staging folder; the next restore into the same target removes it. */
class RestoreStagingTest {
    @TempDir
    Path tmp;

    private Path staging(Path target, String hex, ProcessOwner owner) throws Exception {
        Path staging = target.resolveSibling("." + target.getFileName() + ".restore-" + hex);
        Files.createDirectories(staging.resolve("base/1"));
        Files.write(staging.resolve("base/1/1259"), new byte[8192]);
        Files.write(PhysicalRestore.ownerMarker(staging), owner.toBytes());
        return staging;
    }

    private static ProcessOwner deadLocalOwner() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        Instant started = gone.toHandle().info().startInstant().orElse(null);
        assertThat(gone.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new ProcessOwner(ProcessOwner.current().host(), gone.pid(), started);
    }

    @Test
    void removesTheStagingOfADeadLocalRestoreAndKeepsLiveAndForeignOnes() throws Exception {
        Path target = tmp.resolve("pgdata");
        Path dead = staging(target, "0000dead", deadLocalOwner());
        Path live = staging(target, "0000a11e", ProcessOwner.current());
        Path foreign = staging(target, "00000f0e", new ProcessOwner("elsewhere", 1, null));
        Path unmarked = target.resolveSibling("." + target.getFileName() + ".restore-0000abcd");
        Files.createDirectories(unmarked);
        Path otherTarget = staging(tmp.resolve("other"), "0000dead", deadLocalOwner());

        PhysicalRestore.removeStaleStaging(target);

        assertThat(dead).doesNotExist();
        assertThat(PhysicalRestore.ownerMarker(dead)).doesNotExist();
        assertThat(live).exists();
        assertThat(PhysicalRestore.ownerMarker(live)).exists();
        assertThat(foreign).exists();
        assertThat(unmarked).exists();
        assertThat(otherTarget).as("another target's staging is not this restore's").exists();
    }

    @Test
    void removesAMovedAsideOldTargetOnlyWhenTheNewOneIsInPlace() throws Exception {
        Path target = tmp.resolve("pgdata");
        Path displaced = target.resolveSibling(".pgdata.replaced-0000dead");
        Files.createDirectories(displaced.resolve("base"));
        Path staging = staging(target, "0000dead", deadLocalOwner());
        Files.delete(staging.resolve("base/1/1259"));
        Files.delete(staging.resolve("base/1"));
        Files.delete(staging.resolve("base"));
        Files.delete(staging); // killed after the staging moved into place: only the old target and marker remain

        PhysicalRestore.removeStaleStaging(target);
        assertThat(displaced).as("the only copy of the data while the target is missing").exists();
        assertThat(PhysicalRestore.ownerMarker(staging)).exists();

        Files.createDirectories(target);
        PhysicalRestore.removeStaleStaging(target);
        assertThat(displaced).doesNotExist();
        assertThat(PhysicalRestore.ownerMarker(staging)).doesNotExist();
    }
}
