package com.aiplatform.backup.storage.fs;

import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.spi.StorageTargetProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FileSystemStorageTargetProviderTest {
    @TempDir
    Path tmp;

    private final FileSystemStorageTargetProvider provider = new FileSystemStorageTargetProvider();

    @Test
    void isFoundByServiceLoaderUnderTypeFilesystem() {
        assertThat(ServiceLoader.load(StorageTargetProvider.class).stream().map(ServiceLoader.Provider::get))
                .filteredOn(p -> p.type().equals("filesystem"))
                .singleElement()
                .isInstanceOf(FileSystemStorageTargetProvider.class);
    }

    @Test
    void opensATargetAtAnExistingPathWithoutTouchingIt() throws Exception {
        Path path = Files.createDirectories(tmp.resolve("backups/platform"));
        try (StorageTarget target = provider.open("local", settings("path", path.toString()))) {
            assertThat(target.name()).isEqualTo("local");
            try (ObjectUpload upload = target.create("src/backups/b/manifest.json")) {
                upload.write(new byte[]{1, 2});
                upload.commit();
            }
            assertThat(path.resolve("src/backups/b/manifest.json")).hasBinaryContent(new byte[]{1, 2});
            try (InputStream in = target.open("src/backups/b/manifest.json")) {
                assertThat(in.readAllBytes()).containsExactly(1, 2);
            }
        }
    }

    @Test
    void aMissingPathIsNotCreatedAndIsReportedByTheChecksNotAtLoad() throws Exception {
        Path path = tmp.resolve("unmounted/backups");
        try (StorageTarget target = provider.open("offline", settings("path", path.toString()))) {
            assertThat(target.check(StorageTarget.Access.READ)).extracting(p -> p.code()).containsExactly("missing");
            assertThat(target.check(StorageTarget.Access.WRITE)).extracting(p -> p.code()).containsExactly("missing");
            assertThatThrownBy(() -> target.create("src/backups/b/data").close())
                    .hasMessageContaining("offline").hasMessageContaining(path.toString());
        }
        assertThat(tmp.resolve("unmounted")).doesNotExist();
    }

    @Test
    void createTrueLetsTheFirstWriteCreateTheFolder() throws Exception {
        Path path = tmp.resolve("new/backups");
        try (StorageTarget target = provider.open("local", settings("path", path.toString(), "create", "true"))) {
            assertThat(path).as("not at load").doesNotExist();
            assertThat(target.createIfAbsent("src/locks/backup", new byte[]{1})).isTrue();
            assertThat(path.resolve("src/locks/backup")).exists();
        }
        assertThatThrownBy(() -> provider.open("local", settings("path", path.toString(), "create", "yes")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage[local].create");
    }

    @Test
    void requiresThePath() {
        assertThatThrownBy(() -> provider.open("local", settings()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage[local].path");
    }

    @Test
    void rejectsUnknownFieldsNamingThem() {
        assertThatThrownBy(() -> provider.open("local", settings("path", tmp.toString(), "pth", "/x")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage[local].pth")
                .hasMessageContaining("path");
    }

    @Test
    void failsAtLoadTimeWhenThePathIsNotAFolder() throws Exception {
        Path file = Files.write(tmp.resolve("a-file"), new byte[1]);
        assertThatThrownBy(() -> provider.open("local", settings("path", file.toString())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage[local].path")
                .hasMessageContaining("not a folder");
    }

    @Test
    void aReadOnlyPathLoadsAndPassesTheReadCheck() throws Exception {
        Path folder = Files.createDirectory(tmp.resolve("read-only"));
        Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("r-x------"));
        try {
            FileSystemProbe.assumePermissionBitsApply(folder);
            try (StorageTarget target = provider.open("local", settings("path", folder.toString()))) {
                assertThat(target.check(StorageTarget.Access.READ)).isEmpty();
                assertThat(target.check(StorageTarget.Access.WRITE)).extracting(p -> p.code())
                        .containsExactly("not-writable");
            }
        } finally {
            Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void rejectsAPathThatIsNotAPath() {
        assertThatThrownBy(() -> provider.open("local", settings("path", "bad\0path")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("storage[local].path");
    }

    private static Settings settings(String... keyValues) {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("type", "filesystem");
        for (int i = 0; i < keyValues.length; i += 2) {
            values.put(keyValues[i], keyValues[i + 1]);
        }
        return new Settings("storage[local]", values);
    }
}
