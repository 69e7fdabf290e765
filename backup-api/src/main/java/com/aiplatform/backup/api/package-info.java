/**
 * Value types callers see: ids, manifests, results, events and the exception hierarchy
 * rooted at {@link com.aiplatform.backup.api.BackupException}.
 */
package com.aiplatform.backup.api;
