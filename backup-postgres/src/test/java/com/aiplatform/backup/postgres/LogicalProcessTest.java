package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The child-process runner: password only in the environment, redacted stderr, bounded tail, no orphans. */
class LogicalProcessTest {
    private static final String PASSWORD = "pw-Secret-4711";

    @TempDir
    Path tmp;

    @Test
    void thePasswordReachesTheToolOnlyThroughItsEnvironmentAndNeverAMessage() throws Exception {
        PgTools.Tool tool = tool("fake_dump",
                "echo \"args: $*\"\n"
                        + "echo \"env: $PGPASSWORD timeout=$PGCONNECT_TIMEOUT\"\n"
                        + "echo \"pg_dump: error: connection failed for password $PGPASSWORD\" >&2\n"
                        + "exit 3");
        try (LogicalProcess p = LogicalProcess.start(tool, List.of("--host=h", "--port=1"), Optional.of(Secret.of(PASSWORD)),
                Duration.ofMillis(4500), false, null)) {
            p.noInput();
            String stdout = readAll(p.stdout());
            int exit = p.waitFor();

            assertThat(exit).isEqualTo(3);
            assertThat(stdout).contains("args: --host=h --port=1").doesNotContain("args: " + PASSWORD);
            assertThat(stdout).contains("env: " + PASSWORD + " timeout=5");
            SourceException failure = p.failure("pg_dump of database 'x' failed", exit);
            assertThat(failure.getMessage())
                    .contains("pg_dump of database 'x' failed", "exited with code 3",
                            "pg_dump: error: connection failed for password " + LogicalProcess.REDACTED)
                    .doesNotContain(PASSWORD);
            assertThat(p.stderr()).doesNotContain(PASSWORD);
        }
    }

    @Test
    void withoutAPasswordAnInheritedPgpasswordIsNotPassedOn() throws Exception {
        PgTools.Tool tool = tool("fake_env", "echo \"[${PGPASSWORD-unset}]\"");
        try (LogicalProcess p = LogicalProcess.start(tool, List.of(), Optional.empty(), Duration.ofSeconds(10),
                false, null)) {
            p.noInput();
            assertThat(readAll(p.stdout()).strip()).isEqualTo("[unset]");
            assertThat(p.waitFor()).isZero();
        }
    }

    @Test
    void standardErrorIsBoundedToItsTail() throws Exception {
        PgTools.Tool tool = tool("fake_noisy",
                "i=0; while [ $i -lt 20000 ]; do echo \"noise line $i ........................................\" >&2; "
                        + "i=$((i+1)); done\necho 'the real error at the end' >&2\nexit 1");
        try (LogicalProcess p = LogicalProcess.start(tool, List.of(), Optional.empty(), Duration.ofSeconds(10),
                false, null)) {
            p.noInput();
            int exit = p.waitFor();
            assertThat(exit).isEqualTo(1);
            String err = p.stderr();
            assertThat(err.length()).isLessThanOrEqualTo(LogicalProcess.STDERR_TAIL);
            assertThat(err).endsWith("the real error at the end").doesNotContain("noise line 0 ");
        }
    }

    @Test
    void lineListenerSeesEveryLineRedacted() throws Exception {
        PgTools.Tool tool = tool("fake_lines", "echo one >&2\necho \"two $PGPASSWORD\" >&2\nprintf three >&2");
        List<String> lines = new ArrayList<>();
        try (LogicalProcess p = LogicalProcess.start(tool, List.of(), Optional.of(Secret.of(PASSWORD)),
                Duration.ofSeconds(10), true, line -> {
                    synchronized (lines) {
                        lines.add(line);
                    }
                })) {
            p.noInput();
            assertThat(p.waitFor()).isZero();
        }
        synchronized (lines) {
            assertThat(lines).containsExactly("one", "two " + LogicalProcess.REDACTED, "three");
        }
    }

    @Test
    void closingARunningToolKillsItAndItsChildren() throws Exception {
        PgTools.Tool tool = tool("fake_hang", "sleep 300 &\nsleep 300 &\nwait");
        ProcessHandle parent;
        List<ProcessHandle> children;
        try (LogicalProcess p = LogicalProcess.start(tool, List.of(), Optional.empty(), Duration.ofSeconds(10),
                false, null)) {
            parent = ProcessHandle.current().children()
                    .filter(h -> h.info().commandLine().orElse("").contains("fake_hang")).findFirst().orElseThrow();
            children = awaitChildren(parent, 2);
            assertThat(p.isAlive()).isTrue();
        }
        assertThat(parent.isAlive()).isFalse();
        for (ProcessHandle child : children) {
            child.onExit().get(10, TimeUnit.SECONDS); // a leftover child fails with a TimeoutException
            assertThat(child.isAlive()).isFalse();
        }
    }

    @Test
    void copyMovesEverythingThroughTheBuffer() throws IOException {
        byte[] data = new byte[LogicalProcess.COPY_BUFFER * 3 + 17];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long n = LogicalProcess.copy(new java.io.ByteArrayInputStream(data), out);
        assertThat(n).isEqualTo(data.length);
        assertThat(out.toByteArray()).isEqualTo(data);
    }

    @Test
    void redactionLeavesTextWithoutAPasswordAlone() {
        assertThat(LogicalProcess.redact("abc", null)).isEqualTo("abc");
        assertThat(LogicalProcess.redact("abc", "")).isEqualTo("abc");
        assertThat(LogicalProcess.redact("a-pw-b-pw", "pw")).isEqualTo("a-********-b-********");
    }

    @Test
    void aToolThatCannotStartIsASourceException() {
        PgTools.Tool missing = new PgTools.Tool("pg_dump", tmp.resolve("not-there"), 15, "15.0");
        assertThatThrownBy(() -> LogicalProcess.start(missing, List.of(), Optional.of(Secret.of(PASSWORD)),
                Duration.ofSeconds(1), false, null))
                .isInstanceOf(SourceException.class)
                .hasMessageContaining("cannot start pg_dump")
                .hasMessageNotContaining(PASSWORD);
    }

    private static List<ProcessHandle> awaitChildren(ProcessHandle parent, int count) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        List<ProcessHandle> children = parent.children().toList();
        while (children.size() < count && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            children = parent.children().toList();
        }
        assertThat(children).hasSize(count);
        return children;
    }

    private PgTools.Tool tool(String name, String body) throws IOException {
        Path file = tmp.resolve(name);
        PgToolsTest.script(file, body);
        return new PgTools.Tool(name, file, 15, "15.0");
    }

    private static String readAll(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
