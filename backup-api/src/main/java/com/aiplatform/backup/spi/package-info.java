/**
 * Contracts for implementers: backup providers and their sessions, artifact sinks and
 * sources, storage targets and their providers.
 */
package com.aiplatform.backup.spi;
