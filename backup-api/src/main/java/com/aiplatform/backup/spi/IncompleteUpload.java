package com.aiplatform.backup.spi;

import java.time.Instant;
import java.util.Objects;

/**
 * An upload that was started and neither committed nor aborted: a live one, or the leftover of
 * a killed process (a filesystem target's hidden {@code .<name>.<hex>.partial} file, an S3
 * multipart upload). Never listed or readable as an object; debris once old enough.
 *
 * @param key          the key the upload would have created
 * @param uploadId     the target's id of the upload (file name, multipart upload id)
 * @param size         bytes stored so far
 * @param lastModified when it was last written to
 */
public record IncompleteUpload(String key, String uploadId, long size, Instant lastModified) {
    public IncompleteUpload {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(uploadId, "uploadId");
        Objects.requireNonNull(lastModified, "lastModified");
    }
}
