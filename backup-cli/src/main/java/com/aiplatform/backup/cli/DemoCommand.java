package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.spi.SourceConfig;
import com.fasterxml.jackson.annotation.JsonInclude;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code demo}: the README's main job on embedded defaults. Creates realistic data, a
 * storage folder and a fresh keyset in a temporary directory, then for every demo source:
 * backup (zstd, encrypted), verify, restore into a fresh place, and compare the restored copy
 * with the original. Exits non-zero when any restored copy differs.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Backs up realistic sample data, verifies, restores and compares it, all in a temporary "
                + "directory (zstd, encrypted with a fresh keyset). Needs no configuration.",
                "Exits with 1 when a restored copy differs from the original."})
final class DemoCommand implements Callable<Integer> {
    static final int MAX_SIZE_MB = 10 * 1024;

    @ParentCommand
    RootCommand root;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--keep", description = "Keep the temporary directories and print where they are.")
    boolean keep;

    @Option(names = "--size-mb", paramLabel = "N", defaultValue = "8",
            description = "Rough MiB of sample data per source: the sample tree's log files, the PostgreSQL "
                    + "embeddings, the Kafka records (default: ${DEFAULT-VALUE}).")
    int sizeMb;

    /** The report of one source. */
    record SourceResult(String source, String engine, String backupId, long storedBytes, long rawBytes,
                        long backupMillis, long restoreMillis, boolean verified, boolean restoreVerified,
                        List<String> differences) {
        SourceResult {
            differences = List.copyOf(differences);
        }
    }

    /** A source the demo could not run here, and why. */
    record Skipped(String source, String engine, String reason) {
    }

    /** The whole report; {@code keptDirectory} is there only with {@code --keep}. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Report(List<SourceResult> sources, List<Skipped> skipped, String keptDirectory) {
        Report {
            sources = List.copyOf(sources);
            skipped = List.copyOf(skipped);
        }
    }

    /** The sources the demo runs, in order. Add new engines here. */
    static List<DemoSource> demoSources() {
        return List.of(new DirectoryDemoSource(), new PostgresDemoSource(), new KafkaDemoSource());
    }

    @Override
    public Integer call() throws Exception {
        if (sizeMb < 0 || sizeMb > MAX_SIZE_MB) {
            throw new IllegalArgumentException("--size-mb must be between 0 and " + MAX_SIZE_MB + ", not " + sizeMb);
        }
        Path work = Files.createTempDirectory("backupctl-demo-");
        List<DemoSource> all = demoSources();
        List<DemoSource> sources = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        for (DemoSource source : all) {
            source.unavailable().ifPresentOrElse(
                    reason -> skipped.add(new Skipped(source.name(), source.engine(), reason)),
                    () -> sources.add(source));
        }
        Report report;
        try {
            report = run(work, sources, skipped);
        } finally {
            for (DemoSource source : all) {
                try {
                    source.close();
                } catch (Exception e) {
                    root.err().println("backupctl: demo: could not stop " + source.name() + ": " + e.getMessage());
                }
            }
            if (!keep) {
                deleteTree(work);
            }
        }
        print(report, sources);
        List<String> failed = report.sources().stream().filter(r -> !r.restoreVerified()).map(SourceResult::source).toList();
        if (!failed.isEmpty()) {
            throw new CommandFailure(BackupCtl.FAILED, "demo: the restored copy of " + String.join(", ", failed)
                    + " differs from the original (see the differences above)");
        }
        return BackupCtl.OK;
    }

    private Report run(Path work, List<DemoSource> sources, List<Skipped> skipped) throws Exception {
        Path storage = Files.createDirectories(work.resolve("storage"));
        Path keyset = work.resolve("keyset.json");
        EncryptionKeys.generateKeysetFile(keyset);

        Map<String, Object> config = new LinkedHashMap<>();
        config.put("storage", List.of(Map.of("name", "demo", "type", "filesystem", "path", storage.toString())));
        config.put("compression", "zstd");
        config.put("encryption", Map.of("keyset-file", keyset.toString()));
        List<Map<String, Object>> sourceBlocks = new ArrayList<>();
        for (DemoSource source : sources) {
            Map<String, Object> block = new LinkedHashMap<>();
            block.put("name", source.name());
            block.put("type", source.engine());
            block.putAll(source.prepare(work, sizeMb));
            sourceBlocks.add(block);
        }
        config.put("sources", sourceBlocks);

        List<SourceResult> results = new ArrayList<>();
        try (LoadedConfig loaded = new ConfigLoader().load(config)) {
            ProgressLine progress = root.progress(json);
            try (BackupEngine engine = root.engine(loaded, null, RootCommand.listener(progress))) {
                for (DemoSource source : sources) {
                    results.add(drill(engine, loaded.source(source.name()), source, work, progress));
                }
            } finally {
                RootCommand.clear(progress);
            }
        }
        return new Report(results, skipped, keep ? work.toString() : null);
    }

    /** Backup, verify, restore, compare: one restore drill. */
    static SourceResult drill(BackupEngine engine, SourceConfig config, DemoSource source, Path work,
                              ProgressLine progress) throws Exception {
        source.beforeBackup(engine, config);
        long t0 = System.nanoTime();
        Manifest manifest = engine.backup(config);
        long backupMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        source.afterBackup(engine, config);
        String id = manifest.backupId().value();

        VerifyReport verify = engine.verify(source.name(), id);
        List<String> differences = new ArrayList<>();
        verify.failures().forEach(f -> differences.add("verify: artifact " + f.name() + ": " + f.reason()));

        long t1 = System.nanoTime();
        engine.restore(config, id, source.restoreOptions(work));
        long restoreMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1);
        RootCommand.clear(progress);
        List<String> restoreDifferences = source.compare();
        differences.addAll(restoreDifferences);
        return new SourceResult(source.name(), source.engine(), id, manifest.storedBytes(), manifest.rawBytes(),
                backupMillis, restoreMillis,
                verify.ok(), verify.ok() && restoreDifferences.isEmpty(), differences);
    }

    private void print(Report report, List<DemoSource> sources) {
        if (json) {
            Json.print(root.out(), report);
            return;
        }
        var out = root.out();
        out.println("backupctl demo: backup, verify, restore and compare (zstd, encrypted with a fresh keyset)");
        for (DemoSource source : sources) {
            out.println("  " + source.name() + " (" + source.engine() + "): " + source.describe());
        }
        for (Skipped s : report.skipped()) {
            out.println("  " + s.source() + " (" + s.engine() + "): skipped: " + s.reason());
        }
        out.println();
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("SOURCE", "ENGINE", "BACKUP ID", "STORED", "RAW", "BACKUP", "RESTORE", "VERIFIED", "RESTORED COPY"));
        for (SourceResult r : report.sources()) {
            rows.add(List.of(r.source(), r.engine(), r.backupId(), Formats.bytes(r.storedBytes()),
                    Formats.bytes(r.rawBytes()), Formats.duration(java.time.Duration.ofMillis(r.backupMillis())),
                    Formats.duration(java.time.Duration.ofMillis(r.restoreMillis())), r.verified() ? "ok" : "FAILED",
                    r.restoreVerified() ? "identical" : "DIFFERS (" + r.differences().size() + ")"));
        }
        out.print(Formats.table(rows));
        for (SourceResult r : report.sources()) {
            for (String d : r.differences()) {
                out.println("  " + r.source() + ": " + d);
            }
        }
        if (report.keptDirectory() != null) {
            Path kept = Path.of(report.keptDirectory());
            out.println();
            out.println("kept " + kept + ":");
            out.println("  data       " + kept.resolve("sources"));
            out.println("  storage    " + kept.resolve("storage"));
            out.println("  keyset     " + kept.resolve("keyset.json"));
            out.println("  restored   " + kept.resolve("restored"));
        }
        out.flush();
    }

    /** Deletes a tree without following symlinks (a link is removed, never its target). */
    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
