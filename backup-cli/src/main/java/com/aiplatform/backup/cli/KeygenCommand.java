package com.aiplatform.backup.cli;

import com.aiplatform.backup.core.EncryptionKeys;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code keygen --out FILE}: writes a new Tink keyset file, readable by its owner only. */
@Command(name = "keygen", mixinStandardHelpOptions = true,
        description = {"Writes a new encryption keyset (Tink JSON) with mode 0600. Never overwrites a file.",
                "Keep a copy offline: encrypted backups cannot be restored without it."})
final class KeygenCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "Where to write the keyset.")
    Path out;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("--out " + out + " exists already; keygen never overwrites a keyset "
                    + "(backups written with it could not be restored any more)");
        }
        String keyId = EncryptionKeys.generateKeysetFile(out);
        boolean posix = Files.getFileAttributeView(out, PosixFileAttributeView.class) != null;
        if (posix) {
            Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-------"));
        }
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("keysetFile", out.toAbsolutePath().toString());
            result.put("keyId", keyId);
            result.put("mode", posix ? "0600" : null);
            Json.print(root.out(), result);
        } else {
            root.out().println("wrote a new keyset to " + out + (posix ? " (mode 0600)" : "") + ", key id " + keyId
                    + "; keep a copy offline: encrypted backups cannot be restored without it");
        }
        return BackupCtl.OK;
    }
}
