package com.aiplatform.backup.api;

import java.util.List;

/**
 * Result of verifying the stored bytes of one backup against its manifest.
 *
 * @param source    source name
 * @param backupId  backup verified
 * @param artifacts one check per artifact (plus one for the manifest itself when it failed)
 * @param missingKeyIds key ids the backup was encrypted with that the configured keyset does not
 *                      hold: the bytes are intact but this keyset cannot decrypt them (empty when
 *                      it can, or when no keyset is configured)
 */
public record VerifyReport(String source, BackupId backupId, List<ArtifactCheck> artifacts,
                           List<String> missingKeyIds) {
    public VerifyReport {
        artifacts = List.copyOf(artifacts);
        missingKeyIds = missingKeyIds == null ? List.of() : List.copyOf(missingKeyIds);
    }

    /** A report of hash checks only (no key problem). */
    public VerifyReport(String source, BackupId backupId, List<ArtifactCheck> artifacts) {
        this(source, backupId, artifacts, List.of());
    }

    /** True when every artifact matched (the stored bytes are intact; see {@link #missingKeyIds}). */
    public boolean ok() {
        return artifacts.stream().allMatch(ArtifactCheck::ok);
    }

    /** The failed checks. */
    public List<ArtifactCheck> failures() {
        return artifacts.stream().filter(c -> !c.ok()).toList();
    }

    /**
     * The check of one artifact.
     *
     * @param name   artifact name
     * @param ok     whether size, SHA-256 (and authentication when encrypted) matched
     * @param reason why it failed; null when ok
     */
    public record ArtifactCheck(String name, boolean ok, String reason) { }
}
