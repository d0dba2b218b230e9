package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupCopier;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code copy --from URI --to URI}: brings a lagging store up to date with another (library: {@link BackupCopier}). */
@Command(
        name = "copy",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Copies the backups a store lacks from another store.",
            "Every committed backup of --from (database, files, base, and archived WAL) that --to does not hold is"
                    + " copied as stored: the encrypted bytes, never decrypted or re-encrypted; the data first, then its"
                    + " checksum file and signature, the manifest last. Only backups whose manifest is trusted"
                    + " (signed, with the configured key) are copied, and only when the data's SHA-256, computed while"
                    + " copying, equals the manifest's: a damaged backup is not copied at all.",
            "A backup --to holds with the same SHA-256 is skipped; one it holds with another SHA-256 is a conflict,"
                    + " never overwritten. A copy that was stopped (kill -9) left nothing --to shows; run it again:"
                    + " its leftovers are replaced.",
            "--from and --to take store URIs as --store and --copy-to do (s3://bucket/prefix?profile=NAME,"
                    + " minio://host:port/bucket/prefix, a local path). See docs/copies.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:--to holds every backup of --from (copied now or before)",
            " 2:bad or missing setting",
            " 4:a store failed (listing, reading or writing); rerun the copy",
            " 5:a backup was not copied: damaged or not trusted in --from, or --to holds"
                    + " another backup of that name (a conflict); the others were copied",
            " 1:internal error"
        })
final class CopyCommand extends CliCommand {
    @Option(names = "--from", required = true, paramLabel = "URI", description = "The store to copy from.")
    String from;

    @Option(names = "--to", required = true, paramLabel = "URI", description = "The store to bring up to date.")
    String to;

    @Option(
            names = "--kind",
            paramLabel = "KIND",
            description = "Only this kind (database, files, base, wal); repeatable. Default: all four.")
    List<String> kinds = new ArrayList<>();

    @Option(
            names = "--since",
            paramLabel = "DATE",
            description = "Only backups completed on or after DATE (YYYY-MM-DD, UTC).")
    String since;

    @Override
    void run(Map<String, Object> summary) {
        java.time.Instant after = null;
        if (since != null) {
            try {
                after = LocalDate.parse(since).atStartOfDay(ZoneOffset.UTC).toInstant();
            } catch (DateTimeParseException e) {
                throw new ConfigurationException("--since " + since + ": not a date; give YYYY-MM-DD.");
            }
        }
        for (String k : kinds) {
            if (!BackupCopier.KINDS.contains(k)) {
                throw new ConfigurationException(
                        "--kind " + k + ": copy takes " + String.join(", ", BackupCopier.KINDS) + ".");
            }
        }
        List<Sink> stores = new ArrayList<>();
        BackupCopier.Result result;
        try {
            Sink source = Stores.openUri(settings, from, "--from");
            stores.add(source);
            Sink dest = Stores.openUri(settings, to, "--to");
            stores.add(dest);
            summary.put("from", source.location());
            summary.put("to", dest.location());
            result = BackupCopier.builder()
                    .from(source)
                    .to(dest)
                    .trust(Encryption.trust(settings))
                    .kinds(kinds.isEmpty() ? BackupCopier.DEFAULT_KINDS : kinds)
                    .since(after)
                    .build()
                    .run();
        } finally {
            CliCommand.close(stores);
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (BackupCopier.Item i : result.items()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("kind", i.kind());
            row.put("key", i.key());
            row.put("status", i.status().name().toLowerCase(java.util.Locale.ROOT));
            if (i.status() == BackupCopier.Status.COPIED) {
                row.put("sizeBytes", i.bytes());
            }
            if (i.error() != null) {
                row.put("error", i.error().code().name());
                row.put("message", forOperators(i.error().getMessage()));
            }
            rows.add(row);
            say(String.format(
                    "%-9s %-45s %s",
                    i.kind(),
                    i.key(),
                    switch (i.status()) {
                        case COPIED -> "copied (" + Terminal.bytes(i.bytes()) + ")";
                        case PRESENT -> "present";
                        default ->
                            i.status().name() + ": " + forOperators(i.error().getMessage());
                    }));
        }
        int copied = result.with(BackupCopier.Status.COPIED).size();
        int present = result.with(BackupCopier.Status.PRESENT).size();
        summary.put("copied", copied);
        summary.put("present", present);
        summary.put("backups", rows);
        say("copied " + copied + ", already present " + present + ", not copied "
                + (result.items().size() - copied - present) + " (" + summary.get("from") + " -> " + summary.get("to")
                + ")");
        java.util.Optional<BackupException> first = result.firstError();
        if (first.isPresent()) {
            BackupException e = first.get();
            long failed = result.items().size() - copied - present;
            throw new BackupException(
                    e.code(),
                    failed + " backup(s) not copied; first: " + e.getMessage(),
                    e.key().orElse(null),
                    e.location().orElse(null),
                    e);
        }
    }
}
