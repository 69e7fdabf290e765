package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;

import java.nio.file.Path;
import java.util.List;

/**
 * Runs a backup in a child JVM for tests that need a real process: one killed mid-upload,
 * and one run under a small heap to prove memory stays flat.
 *
 * <p>Usage: {@code ChildBackup endless <storage-dir>} or {@code ChildBackup roundtrip <storage-dir> <bytes>}.
 */
public final class ChildBackup {
    private ChildBackup() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path storageDir = Path.of(args[1]);
        GeneratedProvider provider = new GeneratedProvider();
        try (var storage = new FileSystemStorageTarget("local", storageDir, true);
             BackupEngine engine = BackupEngine.builder().storage(storage).provider(provider)
                     .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "child keyset")).build()) {
            if (mode.equals("endless")) {
                System.out.println("starting");
                System.out.flush();
                engine.backup(new GeneratedProvider.Config("killed", List.of(
                        new GeneratedProvider.Artifact("first", 1_000_000, 1, false),
                        new GeneratedProvider.Artifact("endless", Long.MAX_VALUE / 2, 2, true))));
                System.out.println("unexpectedly finished");
                System.exit(2);
            }
            long bytes = Long.parseLong(args[2]);
            GeneratedProvider.Config config = new GeneratedProvider.Config("big", List.of(
                    new GeneratedProvider.Artifact("big.dump", bytes, 42, false)));
            Manifest manifest = engine.backup(config);
            engine.restore(config, "latest", RestoreOptions.intoDirectory(storageDir.resolve("unused")));
            String written = manifest.metadata().get("sha256:big.dump");
            String restored = provider.restored.get("big.dump");
            long maxHeap = Runtime.getRuntime().maxMemory();
            System.out.println("raw=" + manifest.rawBytes() + " stored=" + manifest.storedBytes()
                    + " maxHeap=" + maxHeap + " written=" + written + " restored=" + restored);
            System.exit(written != null && written.equals(restored) && manifest.rawBytes() == bytes ? 0 : 1);
        }
    }
}
