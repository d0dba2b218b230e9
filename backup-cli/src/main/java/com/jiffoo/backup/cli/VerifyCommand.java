package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationResult;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.TarListCheck;
import com.jiffoo.backup.postgres.PgRestoreListCheck;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code verify [--deep] [--latest | BACKUP]}: re-reads stored backups and checks them. */
@Command(
        name = "verify",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Verifies backups: quick (stored bytes) or --deep (decrypt and read).",
            "Quick (default): re-reads the stored bytes and checks their SHA-256 against"
                    + " the .sha256 file and the manifest; needs no key. --deep: also decrypts with the configured key"
                    + " (checking OpenPGP's integrity code), checks the plaintext's SHA-256 and reads the inner format"
                    + " (pg_restore --list and all table data for databases, every tar entry for files).",
            "Without BACKUP: the newest backup of each kind (or of --kind)."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:every backup verified",
            " 2:bad or missing" + " setting (e.g. no key for --deep)",
            " 4:the store failed (also when only one store failed and a copy verified)",
            " 5:a backup is damaged or incomplete (also when only one store's copy is)",
            " 6:the key does not open it",
            " 8:no such backup, or no backup at all (also when only one store holds none: a wiped primary)",
            " 1:internal error"
        })
final class VerifyCommand extends CliCommand {
    @Parameters(arity = "0..1", paramLabel = "BACKUP", description = "An s3:// URI, key or local file of one backup.")
    String backup;

    @Option(names = "--latest", description = "The newest backup of each kind (the default without BACKUP).")
    boolean latest;

    @Option(names = "--deep", description = "Also decrypt and read the inner format (needs the key).")
    boolean deep;

    @Option(names = "--kind", paramLabel = "KIND", description = "With --latest: only this kind (database, files).")
    String kind;

    @Override
    void run(Map<String, Object> summary) {
        if (backup != null && (latest || kind != null)) {
            throw new ConfigurationException("name one BACKUP, or use --latest [--kind KIND]; not both.");
        }
        Stores.Candidates at = Stores.candidates(settings, backup);
        List<Map<String, Object>> results = new ArrayList<>();
        StoreFallback.Served<List<Map<String, Object>>> served = null;
        try {
            // the results of the store that served; on failure, those verified before it (as with one store)
            served = StoreFallback.first(at.stores(), "verify", store -> {
                results.clear();
                verifyIn(store, at.key(), results);
                return results;
            });
        } finally {
            summary.put("deep", deep);
            summary.put("results", results);
            if (served != null) {
                summary.put("store", served.store().location());
                if (!served.failures().isEmpty()) {
                    summary.put("storeFailures", CliCommand.storeFailures(served.failures()));
                }
            }
            CliCommand.close(at.stores());
        }
        // a damaged copy is reported (exit 5) although another store's copy verified
        for (StoreFallback.Failure f : served.failures()) {
            if (f.error().code() == com.jiffoo.backup.ErrorCode.INTEGRITY) {
                throw new com.jiffoo.backup.IntegrityException(
                        "the copy in " + f.store().location() + " is damaged (the copy in "
                                + served.store().location() + " verified): "
                                + f.error().getMessage(),
                        f.error().key().orElse(null),
                        f.store().location(),
                        f.error());
            }
        }
        // so is a store that lost its copy (wiped, or the backup never reached it): exit 8, the copy still verified
        for (StoreFallback.Failure f : served.failures()) {
            if (f.error().code() == com.jiffoo.backup.ErrorCode.NOT_FOUND) {
                throw new NotFoundException(
                        "the store " + f.store().location() + " holds no "
                                + (at.key() != null ? "copy of " + at.key() : "backup")
                                + " (the copy in " + served.store().location() + " verified): "
                                + f.error().getMessage()
                                + " Copy the backups back (`copy --from "
                                + served.store().location() + " --to "
                                + f.store().location() + "`) or find out who deleted them.",
                        f.error().key().orElse(null),
                        f.store().location(),
                        f.error());
            }
        }
        // and so is a store that could not be reached: exit 4, the copy still verified (the operator must learn it)
        for (StoreFallback.Failure f : served.failures()) {
            if (f.error().code() == com.jiffoo.backup.ErrorCode.STORAGE) {
                throw new com.jiffoo.backup.StorageException(
                        "the store " + f.store().location() + " could not be reached or failed (the copy in "
                                + served.store().location() + " verified): "
                                + f.error().getMessage()
                                + " Fix that store (its endpoint, credentials, network or disk) and verify again;"
                                + " backups made meanwhile miss it (`copy --from "
                                + served.store().location()
                                + " --to " + f.store().location() + "` catches it up).",
                        f.error().key().orElse(null),
                        f.store().location(),
                        f.error());
            }
        }
    }

    /**
     * Verifies {@code key} in {@code store}, or ({@code null}) the newest backup of each kind there, adding each result
     * to {@code results} as it passes.
     */
    private void verifyIn(Sink store, String key, List<Map<String, Object>> results) {
        List<String> keys = new ArrayList<>();
        if (key != null) {
            keys.add(key);
        } else {
            StoredBackups backups = StoredBackups.of(store, Encryption.trust(settings));
            for (String k : kind != null ? List.of(kind) : ListCommand.LISTED_KINDS) {
                Optional<BackupManifest> newest = backups.scan(k).latestTrusted();
                newest.ifPresent(m -> keys.add(m.objectKey()));
                if (newest.isEmpty() && kind != null) {
                    throw new NotFoundException(
                            "No committed " + kind + " backup in " + store.location() + ". Run `backup " + kind
                                    + "` first, or check S3_BUCKET/BACKUP_DIR.",
                            null,
                            store.location(),
                            null);
                }
            }
            if (keys.isEmpty()) {
                throw new NotFoundException(
                        "No committed backup in " + store.location() + ". Check that"
                                + " S3_BUCKET or BACKUP_DIR names the store the backups go to.",
                        null,
                        store.location(),
                        null);
            }
        }
        for (String k : keys) {
            results.add(verify(store, k));
        }
    }

    private Map<String, Object> verify(Sink store, String key) {
        BackupVerifier.Builder b = BackupVerifier.builder().sink(store).listener(progress());
        BackupTrust trust;
        if (deep) {
            OpenPgpTransform pgp = Encryption.forRestore(settings);
            trust = Encryption.trust(settings, pgp);
            b.transforms(List.of(pgp));
        } else {
            trust = Encryption.trust(settings);
        }
        BackupManifest m = StoredBackups.of(store, trust).manifest(key);
        if (deep) {
            b.innerCheck(innerCheck(m.kind()));
        }
        b.trust(trust);
        VerificationResult r = b.build().verify(key, deep);
        Map<String, Object> d = new LinkedHashMap<>(describe(m, store));
        d.put("verified", deep ? "deep" : "quick");
        d.put("durationMs", r.elapsed().toMillis());
        say(String.format(
                Locale.ROOT,
                "%s verification passed: %s (%s, %.1f s)",
                deep ? "deep" : "quick",
                where(store, m.objectKey()),
                Terminal.bytes(m.objectSize()),
                r.elapsed().toMillis() / 1000.0));
        return d;
    }

    /** The check of a backup's inner format, by kind; none for kinds this launcher does not know. */
    static RestoreTarget innerCheck(String kind) {
        return switch (kind) {
            case "database" -> PgRestoreListCheck.create();
            case "files", "base" -> TarListCheck.create(); // base: the tar.zst of pg_basebackup
            default -> null;
        };
    }
}
