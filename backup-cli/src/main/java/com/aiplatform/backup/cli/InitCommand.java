package com.aiplatform.backup.cli;

import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

/** {@code init [--storage NAME]}: creates a storage target's folder, the only command that does. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Creates the storage target's folder (mode 0700; the first configured target, or --storage NAME) "
                + "and checks that it can be written. No other command creates a storage folder (except the first "
                + "backup to a target with 'create: true'), so an unmounted disk is never replaced by an empty "
                + "local folder.",
                "Exits with 1 when the folder cannot be created or written."})
final class InitCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Override
    public Integer call() throws Exception {
        try (LoadedConfig config = root.loadConfig()) {
            StorageTarget target = config.storageTarget(root.storage);
            boolean created = target.initialize();
            RootCommand.checked(target, StorageTarget.Access.WRITE);
            root.out().println((created ? "initialized storage target '" : "storage target '") + target.name()
                    + (created ? "'" : "' exists already") + ": " + target + "; ready for backups");
        }
        root.out().flush();
        return BackupCtl.OK;
    }
}
