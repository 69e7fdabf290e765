package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.BackupListener;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** The {@code backupctl} command: global options and the subcommands. */
@Command(name = "backupctl",
        mixinStandardHelpOptions = true,
        versionProvider = RootCommand.Version.class,
        description = "Backs up, lists, verifies and restores the platform's databases and configuration folders.",
        subcommands = {BackupCommand.class, ListCommand.class, VerifyCommand.class, RestoreCommand.class,
                ArchiveCommand.class, CopyCommand.class, PlaceCommand.class, PruneCommand.class, RpoCommand.class, DrillCommand.class,
                UnlockCommand.class, KeygenCommand.class, DemoCommand.class, InitCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 failed (I/O, storage, source, key), 2 bad usage or configuration, "
                + "3 integrity check failed, 4 RPO target breached (rpo), 70 internal error, "
                + "130/143 aborted by SIGINT/SIGTERM (uploads aborted, lock released)."})
final class RootCommand implements Callable<Integer> {
    private final PrintWriter out;
    private final PrintWriter err;

    @Option(names = "--config", paramLabel = "FILE", scope = ScopeType.INHERIT,
            defaultValue = "${env:BACKUPCTL_CONFIG}",
            description = "Configuration file (YAML or JSON); default: the BACKUPCTL_CONFIG environment variable.")
    Path config;

    @Option(names = "--storage", paramLabel = "NAME", scope = ScopeType.INHERIT,
            description = "Storage target to use (default: the first one configured).")
    String storage;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces on failure and log more.")
    boolean verbose;

    RootCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        err.println("backupctl: missing command: one of backup, list, verify, restore, archive, copy, place, prune, rpo, drill, unlock, keygen, demo, init (see 'backupctl --help')");
        return BackupCtl.USAGE;
    }

    PrintWriter out() {
        return out;
    }

    PrintWriter err() {
        return err;
    }

    boolean verbose() {
        return verbose;
    }

    /** Loads and validates the configuration file given with {@code --config}. */
    LoadedConfig loadConfig() {
        if (config == null) {
            throw new IllegalArgumentException("--config FILE is required for this command "
                    + "(or set the BACKUPCTL_CONFIG environment variable)");
        }
        return new ConfigLoader().load(config);
    }

    /**
     * An engine over the selected storage target with the configured compression (per source too)
     * and key, after checking that the target can be read.
     */
    BackupEngine engine(LoadedConfig loaded, BackupListener listener) throws BackupException {
        return engine(loaded, storage, listener);
    }

    /** An engine over the selected storage target, after checking it allows {@code access}. */
    BackupEngine engine(LoadedConfig loaded, BackupListener listener, StorageTarget.Access access)
            throws BackupException {
        return engine(loaded, storage, listener, access);
    }

    /** An engine over the named storage target (the first one when null), after checking that it can be read. */
    BackupEngine engine(LoadedConfig loaded, String storageName, BackupListener listener) throws BackupException {
        return engine(loaded, storageName, listener, StorageTarget.Access.READ);
    }

    /**
     * An engine over the named storage target (the first one when null), after checking that it
     * allows {@code access}; only this target is checked, so another configured target being
     * missing or read-only does not matter here.
     *
     * @throws StorageException (exit 1) naming the target and every problem
     */
    BackupEngine engine(LoadedConfig loaded, String storageName, BackupListener listener, StorageTarget.Access access)
            throws BackupException {
        BackupEngine.Builder builder = BackupEngine.builder()
                .storage(checked(loaded.storageTarget(storageName), access))
                .compression(loaded.compression())
                .listener(SignalAbort.tracking(listener));
        loaded.sourceCompression().forEach(builder::compression);
        loaded.encryption().ifPresent(builder::encryption);
        if (loaded.lockLease() != null) {
            builder.lockLease(loaded.lockLease());
        }
        return builder.build();
    }

    /**
     * The target after checking that it allows {@code access}.
     *
     * @throws StorageException (exit 1) naming the target and every problem (missing folder, read-only, ...)
     */
    static StorageTarget checked(StorageTarget target, StorageTarget.Access access) throws StorageException {
        List<Problem> problems = target.check(access);
        if (!problems.isEmpty()) {
            throw new StorageException("storage target '" + target.name() + "' cannot be "
                    + (access == StorageTarget.Access.WRITE ? "written" : "read") + ": "
                    + problems.stream().map(Problem::toString).collect(Collectors.joining("; ")), false);
        }
        return target;
    }

    /**
     * Warns on stderr (one line, not a failure) when {@code target} cannot be written, so the
     * result of a {@code what} (verify, drill) cannot be recorded on it: a read-only copy is
     * still checked, but its result is not kept.
     */
    void warnIfResultNotRecorded(StorageTarget target, String what) {
        List<Problem> problems = target.check(StorageTarget.Access.WRITE);
        if (!problems.isEmpty()) {
            err.println("backupctl: warning: the " + what + " result is not recorded on storage target '"
                    + target.name() + "': " + problems.stream().map(Problem::toString).collect(Collectors.joining("; ")));
            err.flush();
        }
    }

    /** The progress line on stderr when stdout is a terminal and the output is for humans. */
    ProgressLine progress(boolean json) {
        return !json && ProgressLine.isTerminal() ? new ProgressLine(err) : null;
    }

    static BackupListener listener(ProgressLine progress) {
        return progress == null ? BackupListener.NONE : progress;
    }

    static void clear(ProgressLine progress) {
        if (progress != null) {
            progress.clear();
        }
    }

    /** The version from the jar manifest, when there is one. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = RootCommand.class.getPackage().getImplementationVersion();
            return new String[] {"backupctl " + (v == null ? "(development build)" : v)};
        }
    }
}
