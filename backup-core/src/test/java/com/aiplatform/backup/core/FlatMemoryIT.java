package com.aiplatform.backup.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A 2 GiB backup and restore (zstd + encryption, real files) run in a JVM limited to a 64 MiB heap. */
class FlatMemoryIT {
    @TempDir
    Path tmp;

    @Test
    void twoGibibytesThroughA64MibHeap() throws Exception {
        long size = 2L << 30;
        Path log = tmp.resolve("child.log");
        Process child = ChildJvm.start(List.of("-Xmx64m", "-XX:+UseSerialGC"), log, "roundtrip",
                tmp.resolve("storage").toString(), Long.toString(size));
        boolean finished = child.waitFor(10, TimeUnit.MINUTES);
        if (!finished) {
            child.destroyForcibly();
        }
        String output = Files.readString(log);
        assertThat(finished).as("finished in 10 minutes; output: %s", output).isTrue();
        assertThat(child.exitValue()).as("child output: %s", output).isZero();
        assertThat(output).contains("raw=" + size).contains("maxHeap=");
        long maxHeap = Long.parseLong(output.replaceAll("(?s).*maxHeap=(\\d+).*", "$1"));
        assertThat(maxHeap).isLessThanOrEqualTo(64L << 20);
    }
}
