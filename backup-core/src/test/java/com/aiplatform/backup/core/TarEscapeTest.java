package com.aiplatform.backup.core;

import com.aiplatform.backup.api.IntegrityException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Archives crafted to escape the restore target are refused and nothing lands anywhere. */
class TarEscapeTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"dot-dot", "absolute", "nested-dot-dot", "symlink-out", "absolute-symlink",
        "through-symlink"})
    void maliciousEntriesAreRefused(String attack) throws Exception {
        byte[] tar = craft(attack);
        Path target = tmp.resolve("restore/target");
        assertThatThrownBy(() -> TarTree.extract(new ByteArrayInputStream(tar), target, false))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("refusing");
        assertThat(target).doesNotExist();
        try (Stream<Path> left = Files.list(tmp.resolve("restore"))) {
            assertThat(left).as("no staging folder left behind").isEmpty();
        }
        assertThat(tmp.resolve("evil.txt")).doesNotExist();
        assertThat(tmp.resolve("restore/evil.txt")).doesNotExist();
    }

    private static byte[] craft(String attack) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            file(tar, "ok.txt", "fine");
            switch (attack) {
                case "dot-dot" -> file(tar, "../evil.txt", "x");
                case "absolute" -> file(tar, "/tmp/evil.txt", "x");
                case "nested-dot-dot" -> file(tar, "a/b/../../../evil.txt", "x");
                case "symlink-out" -> link(tar, "escape", "../../evil.txt");
                case "absolute-symlink" -> link(tar, "escape", "/etc/passwd");
                case "through-symlink" -> {
                    link(tar, "dir-link", "sub");
                    file(tar, "dir-link/evil.txt", "x");
                }
                default -> throw new IllegalArgumentException(attack);
            }
        }
        return bytes.toByteArray();
    }

    private static void file(TarArchiveOutputStream tar, String name, String content) throws IOException {
        byte[] data = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(name, true);
        e.setSize(data.length);
        tar.putArchiveEntry(e);
        tar.write(data);
        tar.closeArchiveEntry();
    }

    private static void link(TarArchiveOutputStream tar, String name, String target) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
        e.setLinkName(target);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }
}
