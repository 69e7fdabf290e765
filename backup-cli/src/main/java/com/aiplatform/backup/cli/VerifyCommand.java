package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.core.BackupEngine;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code verify <source> <id|latest>}: checks every stored artifact against the manifest. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks every stored artifact of a backup: size, SHA-256 and, when encrypted, authentication.",
                "Exits with 3 naming each failed artifact and its reason; with 1 when the stored bytes are intact "
                        + "but the configured keyset lacks the key they were encrypted with."})
final class VerifyCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name.")
    String source;

    @Parameters(index = "1", paramLabel = "ID|latest", description = "Backup id, or 'latest'.")
    String id;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        VerifyReport report;
        try (LoadedConfig config = root.loadConfig()) {
            ProgressLine progress = root.progress(json);
            try (BackupEngine engine = root.engine(config, RootCommand.listener(progress))) {
                report = engine.verify(source, id);
                root.warnIfResultNotRecorded(engine.storage(), "verify");
            } finally {
                RootCommand.clear(progress);
            }
        }
        boolean keysMissing = !report.missingKeyIds().isEmpty();
        String keyProblem = "key id " + String.join(", ", report.missingKeyIds()) + " missing from the configured "
                + "keyset: it cannot decrypt this backup";
        if (json) {
            ObjectNode node = Json.MAPPER.valueToTree(report);
            node.put("ok", report.ok() && !keysMissing);
            node.put("hashesOk", report.ok());
            Json.print(root.out(), node);
        } else {
            for (VerifyReport.ArtifactCheck check : report.artifacts()) {
                root.out().println((check.ok() ? "  ok      " : "  FAILED  ") + check.name()
                        + (check.ok() ? "" : ": " + check.reason()));
            }
            if (report.ok() && keysMissing) {
                root.out().println("hashes of " + report.source() + " " + report.backupId() + " ok, but " + keyProblem);
            } else if (report.ok()) {
                root.out().println("verified " + report.source() + " " + report.backupId() + ": "
                        + report.artifacts().size() + (report.artifacts().size() == 1 ? " artifact ok" : " artifacts ok"));
            }
        }
        root.out().flush();
        if (!report.ok()) {
            throw new CommandFailure(BackupCtl.INTEGRITY, "verify of " + report.source() + " " + report.backupId()
                    + " failed: " + report.failures().stream()
                            .map(f -> "artifact " + f.name() + ": " + f.reason())
                            .collect(Collectors.joining("; "))
                    + (keysMissing ? "; also " + keyProblem : ""));
        }
        if (keysMissing) {
            throw new CommandFailure(BackupCtl.FAILED, "verify of " + report.source() + " " + report.backupId()
                    + ": hashes ok, but " + keyProblem);
        }
        return BackupCtl.OK;
    }
}
