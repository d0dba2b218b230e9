package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PostgresRestoreTarget;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Database backup and restore timings on a pgbench database of known size, against pg_dump and pg_restore alone
 * and the runbook's shell pipeline. The server comes from the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD);
 * the user must be allowed to create databases.
 *
 * <pre>
 * export PGHOST=127.0.0.1 PGUSER=jiffoo_test PGPASSWORD=jiffoo_test
 * java -Xmx64m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.DatabaseBackupRun 20 /var/tmp/bench
 * </pre>
 */
public final class DatabaseBackupRun {
    private DatabaseBackupRun() {}

    public static void main(String[] args) throws Exception {
        int scale = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "/var/tmp/jiffoo-db-bench"));
        PgConnection server = PgConnection.fromEnvironment().withDatabase("postgres");
        String db = "jb_bench_" + Long.toHexString(System.nanoTime());
        List<String> created = new ArrayList<>(List.of(db));
        Map<String, String> env = server.childEnvironment();
        try {
            sh(env, "createdb " + db + " && pgbench -i -q -s " + scale + " " + db + " 2>&1 | tail -1");
            // pgbench's own rows are mostly blank padding (they compress ~60:1); add a wide table of hex text,
            // timestamps and amounts, closer to a shop's orders
            sh(
                    env,
                    "psql -q -d " + db + " -c \"CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS customer,"
                            + " md5((g * 7)::text) || md5((g * 13)::text) AS items, now() - g * interval '1 minute' AS placed,"
                            + " (random() * 1000)::numeric(10,2) AS amount FROM generate_series(1, " + scale * 50_000
                            + ") g; ALTER TABLE orders ADD PRIMARY KEY (id)\" -c \"VACUUM ANALYZE\"");
            PgConnection source = server.withDatabase(db);
            long size;
            try (Connection c = source.openJdbc();
                    Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT pg_database_size(current_database())")) {
                r.next();
                size = r.getLong(1);
            }
            System.out.printf(
                    "pgbench scale %d: %,d rows in pgbench_accounts + %,d in orders, database size %.1f" + " MiB%n",
                    scale, scale * 100_000L, scale * 50_000L, size / 1048576.0);
            Path keyFile = work.resolve("k.key");
            Files.deleteIfExists(keyFile);
            PassphraseKeyFile.generate(keyFile);
            OpenPgpTransform pgp = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .build();
            Path gnupg = Files.createDirectories(work.resolve("gnupg"));
            Path dumpFile = work.resolve("plain.dump");

            for (int level : new int[] {9, 9, 6, 1}) { // the first -Z9 round warms up the JIT and caches
                long t = System.nanoTime();
                sh(env, "pg_dump -Fc -Z" + level + " " + db + " > /dev/null");
                print("pg_dump -Fc -Z" + level + " > /dev/null (floor)", t);

                t = System.nanoTime();
                sh(
                        env,
                        "set -o pipefail; pg_dump -Fc -Z" + level + " " + db + " | gpg --homedir " + gnupg
                                + " --batch --pinentry-mode loopback --passphrase-file " + keyFile
                                + " --symmetric --cipher-algo AES256 > " + work.resolve("shell.gpg") + " && sha256sum "
                                + work.resolve("shell.gpg") + " > /dev/null");
                print("shell: pg_dump -Z" + level + " | gpg --symmetric; sha256sum", t);
                Files.deleteIfExists(work.resolve("shell.gpg"));

                Path storeDir = work.resolve("store-" + level);
                try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
                    t = System.nanoTime();
                    BackupManifest m = BackupPipeline.builder()
                            .source(PostgresSource.builder(source)
                                    .compressionLevel(level)
                                    .build())
                            .encryption(pgp)
                            .sink(store)
                            .build()
                            .run();
                    print(
                            String.format(
                                    "ours -Z%d (+exact row counts, OpenPGP, SHA-256, store): %.1f MiB",
                                    level, m.objectSize() / 1048576.0),
                            t);
                    if (level == 9 && Files.exists(work.resolve("warm"))) {
                        sh(env, "pg_dump -Fc -Z9 " + db + " > " + dumpFile);
                        String plain = "jb_bench_pgrestore_" + Long.toHexString(System.nanoTime());
                        created.add(plain);
                        t = System.nanoTime();
                        sh(env, "createdb " + plain + " && pg_restore -d " + plain + " " + dumpFile);
                        print("pg_restore alone (createdb + restore from a file)", t);

                        for (int jobs : new int[] {1, 2}) {
                            String into = "jb_bench_restore" + jobs + "_" + Long.toHexString(System.nanoTime());
                            created.add(into);
                            t = System.nanoTime();
                            RestorePipeline.builder()
                                    .sink(store)
                                    .decryption(pgp)
                                    .target(PostgresRestoreTarget.newDatabaseBuilder(server, into)
                                            .jobs(jobs)
                                            .spoolDirectory(work)
                                            .build())
                                    .build()
                                    .restore(m.objectKey());
                            print(
                                    "ours restore into a new database, " + (jobs == 1 ? "streamed" : "-j 2 (spooled)")
                                            + ", checksums + MDC verified",
                                    t);
                        }
                    }
                }
                delete(storeDir);
                Files.writeString(work.resolve("warm"), "");
            }
            Files.deleteIfExists(work.resolve("warm"));
            Files.deleteIfExists(dumpFile);
        } finally {
            for (String d : created) {
                sh(env, "dropdb --if-exists " + d);
            }
        }
    }

    private static void sh(Map<String, String> env, String script) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT);
        pb.environment().putAll(env);
        Process p = pb.start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed (" + p.exitValue() + "): " + script);
        }
    }

    private static void delete(Path p) throws Exception {
        if (Files.exists(p)) {
            try (Stream<Path> walk = Files.walk(p)) {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static void print(String what, long startNanos) {
        System.out.printf("  %-78s %7.2f s%n", what, (System.nanoTime() - startNanos) / 1e9);
    }
}
