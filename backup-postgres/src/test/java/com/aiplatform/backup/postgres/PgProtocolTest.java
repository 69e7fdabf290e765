package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSink;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Message parsing and the BASE_BACKUP COPY framing, on scripted server bytes. */
class PgProtocolTest {

    /** Server messages as bytes: type, length, body. */
    private static final class Script {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        Script message(char type, byte[] body) throws IOException {
            bytes.write(type);
            PgWire.writeInt(bytes, body.length + 4);
            bytes.write(body);
            return this;
        }

        Script copyData(char kind, String... strings) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write(kind);
            for (String s : strings) {
                PgWire.writeCString(b, s);
            }
            return message('d', b.toByteArray());
        }

        Script data(String payload) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write('d');
            b.write(payload.getBytes(StandardCharsets.UTF_8));
            return message('d', b.toByteArray());
        }

        PgWire wire() {
            return new PgWire(new ByteArrayInputStream(bytes.toByteArray()), OutputStream.nullOutputStream());
        }
    }

    /** A sink keeping artifacts in memory and recording which were closed. */
    private static final class MemorySink implements ArtifactSink {
        final Map<String, ByteArrayOutputStream> artifacts = new LinkedHashMap<>();
        final List<String> closed = new java.util.ArrayList<>();

        @Override
        public OutputStream openArtifact(String name) {
            ByteArrayOutputStream out = new ByteArrayOutputStream() {
                @Override
                public void close() {
                    closed.add(name);
                }
            };
            artifacts.put(name, out);
            return out;
        }

        String text(String name) {
            return artifacts.get(name).toString(StandardCharsets.UTF_8);
        }
    }

    private static void feedCopy(PgWire wire, PhysicalBaseBackup.Receiver receiver) throws IOException {
        while (true) {
            try {
                wire.readHeader();
            } catch (java.io.EOFException end) {
                return;
            }
            receiver.copyData(wire);
        }
    }

    private static PgResultSet row(String... values) {
        return new PgResultSet(List.of("recptr", "tli"), List.of(List.of(values)), "SELECT 1");
    }

    @Test
    void baseBackupCopyStreamBecomesOneArtifactPerArchive() throws Exception {
        PgWire wire = new Script()
                .copyData('n', "16384.tar", "/srv/ts")
                .data("tablespace-bytes")
                .copyData('n', "base.tar", "")
                .data("base-part-1,")
                .message('d', new byte[] {'p', 0, 0, 0, 0, 0, 0, 1, 0})
                .data("base-part-2")
                .copyData('m')
                .data("{\"PostgreSQL-Backup-Manifest-Version\": 1}")
                .wire();
        MemorySink sink = new MemorySink();
        PhysicalBaseBackup.Receiver r = new PhysicalBaseBackup.Receiver(sink);
        r.resultSet(row("0/2000028", "1"));
        r.resultSet(new PgResultSet(List.of("spcoid", "spclocation", "size"),
                List.of(java.util.Arrays.asList("16384", "/srv/ts", null)), "SELECT 1"));
        feedCopy(wire, r);
        r.copyDone();
        r.resultSet(row("0/2000100", "1"));
        r.requireComplete("test server");

        assertThat(sink.artifacts.keySet()).containsExactly("16384.tar", "base.tar", "backup_manifest");
        assertThat(sink.closed).containsExactly("16384.tar", "base.tar", "backup_manifest");
        assertThat(sink.text("base.tar")).isEqualTo("base-part-1,base-part-2");
        assertThat(sink.text("16384.tar")).isEqualTo("tablespace-bytes");
        assertThat(sink.text("backup_manifest")).startsWith("{\"PostgreSQL-Backup-Manifest");
        assertThat(r.startLsn).isEqualTo("0/2000028");
        assertThat(r.stopLsn).isEqualTo("0/2000100");
        assertThat(r.stopTimeline).isEqualTo("1");
    }

    @Test
    void dataBeforeAnyArchiveIsRefused() throws Exception {
        PgWire wire = new Script().data("stray").wire();
        PhysicalBaseBackup.Receiver r = new PhysicalBaseBackup.Receiver(new MemorySink());
        assertThatThrownBy(() -> feedCopy(wire, r)).isInstanceOf(IOException.class)
                .hasMessageContaining("before any archive");
    }

    @Test
    void strangeArchiveNamesAreRefused() throws Exception {
        for (String[] bad : new String[][] {{"../../etc/passwd", ""}, {"base.tar", "/srv/ts"}, {"x.tar", "/srv/ts"},
                {"pg_wal.tar", ""}}) {
            PgWire wire = new Script().copyData('n', bad[0], bad[1]).wire();
            MemorySink sink = new MemorySink();
            PhysicalBaseBackup.Receiver r = new PhysicalBaseBackup.Receiver(sink);
            assertThatThrownBy(() -> feedCopy(wire, r)).as(bad[0]).isInstanceOf(IOException.class)
                    .hasMessageContaining("unexpected archive name");
            assertThat(sink.artifacts).isEmpty();
        }
    }

    @Test
    void anIncompleteAnswerIsRefusedAndLeavesTheOpenArtifactUnfinished() throws Exception {
        PgWire wire = new Script().copyData('n', "base.tar", "").data("partial").wire();
        MemorySink sink = new MemorySink();
        PhysicalBaseBackup.Receiver r = new PhysicalBaseBackup.Receiver(sink);
        r.resultSet(row("0/2000028", "1"));
        r.resultSet(new PgResultSet(List.of("spcoid", "spclocation", "size"), List.of(), "SELECT 0"));
        feedCopy(wire, r);
        // the connection broke here: no CopyDone, no end position
        assertThatThrownBy(() -> r.requireComplete("test server")).isInstanceOf(SourceException.class)
                .hasMessageContaining("backup_manifest");
        assertThat(sink.closed).isEmpty(); // the engine aborts unclosed artifacts: nothing is committed
    }

    @Test
    void errorResponseFieldsAreParsed() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (String f : new String[] {"SFATAL", "VFATAL", "C28P01", "Mpassword authentication failed for user \"x\"",
                "Dsome detail", "Fauth.c", "L330", "Rauth_failed"}) {
            PgWire.writeCString(b, f);
        }
        b.write(0);
        PgServerError e = PgServerError.parse(b.toByteArray());
        assertThat(e.severity()).isEqualTo("FATAL");
        assertThat(e.sqlState()).isEqualTo("28P01");
        assertThat(e.isAuthentication()).isTrue();
        assertThat(e.describe()).isEqualTo("password authentication failed for user \"x\" (SQLSTATE 28P01); some detail");
    }

    @Test
    void serverMajorVersions() {
        assertThat(PgReplicationConnection.majorOf("15.19")).isEqualTo(15);
        assertThat(PgReplicationConnection.majorOf("17.11 (Debian 17.11-1.pgdg120+1)")).isEqualTo(17);
        assertThat(PgReplicationConnection.majorOf("9.6.24")).isEqualTo(9);
        assertThat(PgReplicationConnection.majorOf("18beta1")).isEqualTo(18);
        assertThat(PgReplicationConnection.majorOf("unknown")).isZero();
    }

    @Test
    void sizesAsShowPrintsThem() {
        assertThat(PhysicalBaseBackup.sizeInBytes("16MB")).isEqualTo(16L << 20);
        assertThat(PhysicalBaseBackup.sizeInBytes("1GB")).isEqualTo(1L << 30);
        assertThat(PhysicalBaseBackup.sizeInBytes("512kB")).isEqualTo(512L << 10);
        assertThat(PhysicalBaseBackup.sizeInBytes("8192")).isEqualTo(8192L);
        assertThatThrownBy(() -> PhysicalBaseBackup.sizeInBytes("16 parsecs")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void md5ResponseHasTheProtocolShape() {
        String r = PgAuthenticator.md5("alice", "secret", new byte[] {1, 2, 3, 4});
        assertThat(r).matches("md5[0-9a-f]{32}").doesNotContain("secret");
        assertThat(PgAuthenticator.md5("alice", "secret", new byte[] {1, 2, 3, 5})).isNotEqualTo(r);
    }

    @Test
    void baseBackupCommandUsesTheNewOptionSyntaxAndQuotesTheLabel() {
        assertThat(PhysicalBaseBackup.command("it's"))
                .isEqualTo("BASE_BACKUP (LABEL 'it''s', CHECKPOINT 'fast', WAL true, WAIT false, MANIFEST 'yes',"
                        + " TABLESPACE_MAP true)");
    }
}
