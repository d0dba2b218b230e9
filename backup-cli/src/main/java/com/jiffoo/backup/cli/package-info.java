/**
 * The {@code jiffoo-backup} command line ({@link com.jiffoo.backup.cli.Main}): a thin picocli launcher over the
 * library, configured by the runbook's environment variables, built as one runnable jar. Everything but
 * {@code Main} is internal to the launcher.
 */
package com.jiffoo.backup.cli;
