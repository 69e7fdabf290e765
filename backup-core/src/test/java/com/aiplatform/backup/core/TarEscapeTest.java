package com.aiplatform.backup.core;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.PolicyException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
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

/**
 * Archives crafted to escape the restore target are refused by policy and nothing lands
 * anywhere; symlinks that merely point outside (harmless: nothing is written through them)
 * are restored as they are. Until issue 12 those were refused too ("symlink-out" and
 * "absolute-symlink" were attacks here): such backups verified but could never be restored.
 */
class TarEscapeTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"dot-dot", "absolute", "nested-dot-dot", "through-symlink", "write-through-link",
        "write-through-link-dot", "link-after-its-content", "link-through-link", "twice", "hard-link", "below-a-file"})
    void maliciousEntriesAreRefusedByPolicy(String attack) throws Exception {
        Files.createDirectories(tmp.resolve("x"));
        byte[] tar = craft(attack, tmp);
        Path target = tmp.resolve("restore/target");
        assertThatThrownBy(() -> TarTree.extract(new ByteArrayInputStream(tar), target, false))
                .isInstanceOf(PolicyException.class)
                .isNotInstanceOf(IntegrityException.class)
                .hasMessageStartingWith("refused by policy: tar entry '");
        assertThat(target).doesNotExist();
        try (Stream<Path> left = Files.list(tmp.resolve("restore"))) {
            assertThat(left).as("no staging folder left behind").isEmpty();
        }
        assertThat(tmp.resolve("evil.txt")).doesNotExist();
        assertThat(tmp.resolve("restore/evil.txt")).doesNotExist();
        try (Stream<Path> x = Files.list(tmp.resolve("x"))) {
            assertThat(x).as("nothing written through a link into " + tmp.resolve("x")).isEmpty();
        }
    }

    @Test
    void theRefusalNamesTheEntry() throws Exception {
        byte[] tar = craft("write-through-link", tmp);
        assertThatThrownBy(() -> TarTree.extract(new ByteArrayInputStream(tar), tmp.resolve("t"), false))
                .hasMessageContaining("'a/f'").hasMessageContaining("through the symlink a");
        byte[] dotDot = craft("dot-dot", tmp);
        assertThatThrownBy(() -> TarTree.extract(new ByteArrayInputStream(dotDot), tmp.resolve("t"), false))
                .hasMessageContaining("'../evil.txt'").hasMessageContaining("'..'");
    }

    @Test
    void symlinksPointingAnywhereAreRestoredAsTheyAre() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            file(tar, "ok.txt", "fine");
            link(tar, "escape", "../../evil.txt");
            link(tar, "absolute", "/etc/passwd");
            link(tar, "dangling", "no/such/file");
        }
        Path target = tmp.resolve("restore/target");
        TarTree.extract(new ByteArrayInputStream(bytes.toByteArray()), target, false);
        assertThat(Files.readSymbolicLink(target.resolve("escape"))).isEqualTo(Path.of("../../evil.txt"));
        assertThat(Files.readSymbolicLink(target.resolve("absolute"))).isEqualTo(Path.of("/etc/passwd"));
        assertThat(Files.readSymbolicLink(target.resolve("dangling"))).isEqualTo(Path.of("no/such/file"));
        assertThat(tmp.resolve("evil.txt")).doesNotExist();
    }

    private static byte[] craft(String attack, Path tmp) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            file(tar, "ok.txt", "fine");
            switch (attack) {
                case "dot-dot" -> file(tar, "../evil.txt", "x");
                case "absolute" -> file(tar, "/tmp/evil.txt", "x");
                case "nested-dot-dot" -> file(tar, "a/b/../../../evil.txt", "x");
                case "through-symlink" -> {
                    link(tar, "dir-link", "sub");
                    file(tar, "dir-link/evil.txt", "x");
                }
                case "write-through-link" -> {
                    link(tar, "a", tmp.resolve("x").toString());
                    file(tar, "a/f", "x");
                }
                case "write-through-link-dot" -> {
                    link(tar, "a", tmp.resolve("x").toString());
                    file(tar, "./a/./f", "x");
                }
                case "link-after-its-content" -> {
                    file(tar, "a/f", "x");
                    link(tar, "a", tmp.resolve("x").toString());
                }
                case "link-through-link" -> {
                    link(tar, "a", tmp.resolve("x").toString());
                    link(tar, "a/l", "/etc/passwd");
                }
                case "twice" -> file(tar, "ok.txt", "again");
                case "below-a-file" -> file(tar, "ok.txt/evil.txt", "x");
                case "hard-link" -> {
                    TarArchiveEntry e = new TarArchiveEntry("hard", TarConstants.LF_LINK);
                    e.setLinkName("/etc/passwd");
                    tar.putArchiveEntry(e);
                    tar.closeArchiveEntry();
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
