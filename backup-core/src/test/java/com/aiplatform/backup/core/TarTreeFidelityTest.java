package com.aiplatform.backup.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/** Names as raw bytes, symlinks anywhere, modes, owners and the root folder survive a tar round trip. */
class TarTreeFidelityTest {
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    @TempDir
    Path tmp;

    @Test
    void namesThatAreNotUtf8RoundTripAsTheirBytesAndNeverCollide() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src"));
        byte[] ff = {'a', (byte) 0xff};
        byte[] fe = {'a', (byte) 0xfe};
        byte[] latin1Dir = "d\u00e9j\u00e0".getBytes(StandardCharsets.ISO_8859_1); // Latin-1, not UTF-8
        Files.writeString(FileNames.resolve(source, ff), "ff");
        Files.writeString(FileNames.resolve(source, fe), "fe");
        Path dir = Files.createDirectory(FileNames.resolve(source, latin1Dir));
        Files.writeString(dir.resolve("in-latin1-dir.txt"), "nested");
        Files.writeString(source.resolve("n\u00e4me.txt"), "utf-8");
        Files.writeString(source.resolve("back\\slash"), "a legal name on Linux");
        byte[] longName = new byte[180];
        Arrays.fill(longName, (byte) 'x');
        longName[90] = (byte) 0xc3; // a lone lead byte: invalid UTF-8, in a name longer than a tar header holds
        Files.writeString(FileNames.resolve(source, longName), "long");
        Files.createSymbolicLink(source.resolve("to-ff"), FileNames.linkTargetPath(ff));
        Files.createSymbolicLink(FileNames.resolve(source, new byte[] {'l', (byte) 0xfe}), Path.of("../out\u00e9side"));
        assertThat(names(source)).as("the JDK sees distinct paths").hasSize(9);

        Path restored = roundTrip(source);

        assertThat(names(restored)).isEqualTo(names(source));
        assertThat(Files.readString(FileNames.resolve(restored, ff))).isEqualTo("ff");
        assertThat(Files.readString(FileNames.resolve(restored, fe))).isEqualTo("fe");
        assertThat(Files.readString(FileNames.resolve(restored, latin1Dir).resolve("in-latin1-dir.txt"))).isEqualTo("nested");
        assertThat(Files.readString(FileNames.resolve(restored, longName))).isEqualTo("long");
        assertThat(FileNames.linkTarget(Files.readSymbolicLink(restored.resolve("to-ff")))).isEqualTo(ff);
    }

    @Test
    void backupsOfEarlierVersionsWithUtf8NamesStillRestore() throws Exception {
        // as TarTree wrote them before names were raw bytes: UTF-8, PAX path records for non-ASCII names
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(bytes, 512, "UTF-8")) {
            tar.setLongFileMode(org.apache.commons.compress.archivers.tar.TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            for (String name : List.of("n\u00e4me.txt", "d\u00e9j\u00e0/inner.txt", "x".repeat(120) + "\u00fc")) {
                byte[] data = name.getBytes(StandardCharsets.UTF_8);
                var e = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(name);
                e.setSize(data.length);
                tar.putArchiveEntry(e);
                tar.write(data);
                tar.closeArchiveEntry();
            }
        }
        Path restored = tmp.resolve("old");
        TarTree.extract(new ByteArrayInputStream(bytes.toByteArray()), restored, false, false);
        assertThat(Files.readString(restored.resolve("n\u00e4me.txt"))).isEqualTo("n\u00e4me.txt");
        assertThat(Files.readString(restored.resolve("d\u00e9j\u00e0/inner.txt"))).isEqualTo("d\u00e9j\u00e0/inner.txt");
        assertThat(restored.resolve("x".repeat(120) + "\u00fc")).isRegularFile();
        assertThat(names(restored)).as("no name with a Latin-1 byte instead of UTF-8").hasSize(4);
    }

    @Test
    void symlinksKeepTheirTargetTextWhereverTheyPoint() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src/sub"));
        Path root = source.getParent();
        Map<String, String> links = new TreeMap<>(Map.of(
                "hostname", "/etc/hostname",
                "sub/out", "../../../x",
                "dangling", "no/such/file",
                "dir", "sub",
                "dot", "./sub/../sub",
                "utf-8", "caf\u00e9",
                "long", "../" + "a-long-target/".repeat(20) + "end"));
        for (Map.Entry<String, String> e : links.entrySet()) {
            Files.createSymbolicLink(root.resolve(e.getKey()), Path.of(e.getValue()));
        }
        Path restored = roundTrip(root);
        for (Map.Entry<String, String> e : links.entrySet()) {
            Path link = restored.resolve(e.getKey());
            assertThat(Files.isSymbolicLink(link)).as(e.getKey()).isTrue();
            assertThat(Files.readSymbolicLink(link).toString()).as(e.getKey()).isEqualTo(e.getValue());
        }
    }

    @Test
    void modesOfEverythingAndOfTheRootAreRestoredExactly() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src"));
        Files.createDirectories(source.resolve("shared"));
        Files.writeString(source.resolve("setuid"), "s");
        Files.writeString(source.resolve("read-only"), "r");
        Files.setAttribute(source.resolve("setuid"), "unix:mode", 04755);
        Files.setAttribute(source.resolve("read-only"), "unix:mode", 0444);
        Files.setAttribute(source.resolve("shared"), "unix:mode", 01777);
        Files.setAttribute(source, "unix:mode", 02751);
        Files.setLastModifiedTime(source, FileTime.fromMillis(1_600_000_000_000L));

        Path restored = roundTrip(source);

        assertThat(mode(restored)).as("the root's mode, not the staging folder's 0700").isEqualTo(02751);
        assertThat(mode(restored.resolve("setuid"))).isEqualTo(04755);
        assertThat(mode(restored.resolve("read-only"))).isEqualTo(0444);
        assertThat(mode(restored.resolve("shared"))).isEqualTo(01777);
        assertThat(Files.getLastModifiedTime(restored).toMillis()).isEqualTo(1_600_000_000_000L);
    }

    @Test
    void ownersAreRecordedAndRestoredWhenRunningAsRoot() throws Exception {
        assumeThat((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid"))
                .as("restoring owners needs root; this test runs as a user, so it is skipped").isZero();
        Path source = Files.createDirectories(tmp.resolve("src/sub"));
        Path root = source.getParent();
        Files.writeString(source.resolve("f"), "f");
        Files.createSymbolicLink(root.resolve("l"), Path.of("/nowhere"));
        chown(root, 4321, 8765); // ids without a name here: restored by id
        chown(source, 1, 1); // daemon:daemon on Debian: restored by name
        chown(source.resolve("f"), 65534, 4321);
        chown(root.resolve("l"), 7, 8);

        Path restored = roundTrip(root);

        for (String rel : List.of("", "sub", "sub/f", "l")) {
            Path original = rel.isEmpty() ? root : root.resolve(rel);
            Path back = rel.isEmpty() ? restored : restored.resolve(rel);
            assertThat(ids(back)).as(rel.isEmpty() ? "the root" : rel).isEqualTo(ids(original));
        }
    }

    @Test
    void socketsAreNotBackedUpButNamed() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(source.resolve("f"), "f");
        try (var channel = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            channel.bind(java.net.UnixDomainSocketAddress.of(source.resolve("app.sock")));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            TarTree.Summary summary = TarTree.write(source, out);
            assertThat(summary.skipped()).containsExactly("app.sock (socket)");
            assertThat(summary.files()).isEqualTo(1);
        }
    }

    @Test
    void aStagingFolderOfAKilledRestoreIsRemovedByTheNextRestoreButALiveOnesIsKept() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(source.resolve("f"), "f");
        Path target = tmp.resolve("restore/target");
        Path parent = Files.createDirectories(target.getParent());
        long gone = Integer.MAX_VALUE; // above any pid_max: no such process
        Path dead = Files.createDirectories(parent.resolve(".target.restore-deadbeef/sub"));
        Files.writeString(dead.resolve("data"), "left by a kill -9");
        Files.writeString(parent.resolve(".target.restore-deadbeef.owner"),
                "pid=" + gone + "\nstart=1\nhost=" + Files.readString(Path.of("/proc/sys/kernel/hostname")).strip() + "\n");
        Path reused = Files.createDirectories(parent.resolve(".target.restore-0000beef"));
        Files.writeString(parent.resolve(".target.restore-0000beef.owner"), "pid=" + ProcessHandle.current().pid()
                + "\nstart=0\nhost=" + Files.readString(Path.of("/proc/sys/kernel/hostname")).strip() + "\n");
        Path live = Files.createDirectories(parent.resolve(".target.restore-11112222"));
        String ourStart = Files.readString(Path.of("/proc/self/stat")).split("\\) ")[1].split(" ")[19];
        Files.writeString(parent.resolve(".target.restore-11112222.owner"), "pid=" + ProcessHandle.current().pid()
                + "\nstart=" + ourStart + "\nhost=" + Files.readString(Path.of("/proc/sys/kernel/hostname")).strip() + "\n");
        Path otherHost = Files.createDirectories(parent.resolve(".target.restore-33334444"));
        Files.writeString(parent.resolve(".target.restore-33334444.owner"), "pid=" + gone
                + "\nstart=1\nhost=another-host.invalid\n");

        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        TarTree.write(source, tar);
        TarTree.extract(new ByteArrayInputStream(tar.toByteArray()), target, false);

        assertThat(parent.resolve(".target.restore-deadbeef")).as("its owner is dead").doesNotExist();
        assertThat(parent.resolve(".target.restore-deadbeef.owner")).doesNotExist();
        assertThat(reused).as("its pid now belongs to another process").doesNotExist();
        assertThat(live).as("its owner runs").isDirectory();
        assertThat(otherHost).as("another host's").isDirectory();
        assertThat(Files.readString(target.resolve("f"))).isEqualTo("f");
        try (Stream<Path> left = Files.list(parent)) {
            assertThat(left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".target.restore-")
                    && !n.contains("11112222") && !n.contains("33334444")))
                    .as("this restore removed its own staging folder and owner file").isEmpty();
        }
    }

    @Test
    void aTargetInsideTheSourceIsRefused() throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src"));
        DirectoryBackupProvider provider = new DirectoryBackupProvider();
        DirectoryConfig config = new DirectoryConfig("cfg", source);
        for (Path target : List.of(source, source.resolve("restored"), tmp.resolve("src/./a/../b"))) {
            assertThatThrownBy(() -> provider.openRestore(config,
                    com.aiplatform.backup.spi.RestoreOptions.intoDirectory(target)))
                    .as(target.toString())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("source directory " + source)
                    .hasMessageContaining("outside");
        }
        Path link = Files.createSymbolicLink(tmp.resolve("link-to-src"), source);
        assertThatThrownBy(() -> provider.openRestore(config,
                com.aiplatform.backup.spi.RestoreOptions.intoDirectory(link.resolve("x"))))
                .isInstanceOf(IllegalArgumentException.class);
        provider.openRestore(config, com.aiplatform.backup.spi.RestoreOptions.intoDirectory(tmp.resolve("src-restored")))
                .close();
    }

    private Path roundTrip(Path source) throws Exception {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        TarTree.write(source, tar);
        Path restored = tmp.resolve("restored-" + System.nanoTime());
        TarTree.extract(new ByteArrayInputStream(tar.toByteArray()), restored, false);
        return restored;
    }

    /** Relative raw names (hex) of everything below {@code root}, as the JDK's paths hold them. */
    private static List<String> names(Path root) throws Exception {
        List<String> names = new ArrayList<>();
        byte[] rootBytes = FileNames.bytes(root);
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (!p.equals(root)) {
                    names.add(java.util.HexFormat.of().formatHex(FileNames.relative(rootBytes, p)));
                }
            }
        }
        names.sort(null);
        return names;
    }

    private static int mode(Path p) throws Exception {
        return (Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW) & 07777;
    }

    private static void chown(Path p, int uid, int gid) throws Exception {
        Files.setAttribute(p, "unix:uid", uid, NOFOLLOW);
        Files.setAttribute(p, "unix:gid", gid, NOFOLLOW);
    }

    private static String ids(Path p) throws Exception {
        return Files.getAttribute(p, "unix:uid", NOFOLLOW) + ":" + Files.getAttribute(p, "unix:gid", NOFOLLOW);
    }
}
