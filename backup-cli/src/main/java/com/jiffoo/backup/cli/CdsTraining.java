package com.jiffoo.backup.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Not an API: the training run from which {@code mvn package} (and {@code jiffoo-backup cds-archive}) makes the
 * class-data-sharing archive {@code jiffoo-backup.jsa} that the {@code jiffoo-backup} launcher starts the JVM with.
 *
 * <p>It runs, in one JVM and on a temporary directory only, what the commands load: a key file, a files backup into a
 * local store, {@code list}, a deep {@code verify}, a restore, {@code wal-push} and {@code wal-fetch}, an S3 store
 * that is not reachable (127.0.0.1, port 9: only the client's classes matter), a database restore whose connection a
 * closed port refuses (nothing is created), and it loads the PostgreSQL classes. The JVM started with
 * {@code -XX:DumpLoadedClassList} lists every class it loaded, and a second JVM ({@code -Xshare:dump}) writes them
 * into a static archive. A step that fails makes the
 * archive smaller, never wrong: the JVM checks the archive against the jar and the JDK each time it starts and ignores
 * it when they differ. The launcher runs it with an empty environment (PATH, HOME, LANG and TMPDIR only), so that
 * no setting of the host (a Slack webhook, a log directory, a store, credentials) reaches it.
 *
 * <p>With the argument {@code database} it trains only what {@code backup database} and {@code restore database}
 * load on a local store (a key file, a files backup and restore for the pipeline's classes, both database commands
 * up to their connection, the PostgreSQL classes), for the launcher's second archive {@code jiffoo-backup-database.jsa}:
 * the JVM relocates its archive at every start, at about 2.3 ms per MB on the machines measured, and this one is 35 MB
 * against the full archive's 55 MB (docs/benchmarks.md, "One archive per command family").
 */
public final class CdsTraining {

    private CdsTraining() {}

    /**
     * Runs the training: every command's, or with the argument {@code database} the database commands' on a local
     * store. Prints one line per step that failed and exits 0.
     */
    public static void main(String[] args) throws IOException {
        boolean all = args.length == 0 || !"database".equals(args[0]);
        Path dir = Files.createTempDirectory("jiffoo-backup-cds-");
        PrintStream out = System.out;
        PrintStream err = System.err;
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        List<String> failed = new ArrayList<>();
        try {
            Path key = dir.resolve("backup.key");
            Path store = Files.createDirectories(dir.resolve("store"));
            Path source = Files.createDirectories(dir.resolve("source/sub"));
            Files.writeString(source.resolve("a.txt"), "jiffoo-backup\n".repeat(1000));
            Files.write(source.resolve("b.bin"), new byte[70_000]);
            Path config = dir.resolve("s3.properties");
            Files.writeString(
                    config,
                    "S3_ENDPOINT=http://127.0.0.1:9\nAWS_REGION=us-east-1\n"
                            + "AWS_ACCESS_KEY_ID=training\nAWS_SECRET_ACCESS_KEY=training\n");
            Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
            String k = "--key-file=" + key;
            String s = "--store=" + store;
            System.setOut(quiet);
            System.setErr(quiet);
            step(failed, 0, "keygen", key.toString());
            step(failed, 0, "backup", "files", source.getParent().toString(), s, k, "--quiet");
            if (all) {
                step(failed, 0, "list", s, k, "--json");
                step(failed, 0, "verify", "--deep", "--latest", s, k, "--json");
            }
            step(failed, 0, "restore", "files", "--latest", "--target=" + dir.resolve("restored"), s, k, "--quiet");
            if (all) {
                step(failed, -1, "monitor", s, k, "--json", "--no-alert"); // no database backup: never alert
                step(failed, 0, "prune", "--dry-run", s, k, "--json");
                Path wal = Files.createDirectories(dir.resolve("pg_wal")).resolve("000000010000000000000001");
                Files.write(wal, new byte[1 << 20]);
                step(failed, 0, "wal-push", s, k, wal.toString()); // archive_command: one JVM per WAL file
                String xlog = dir.resolve("RECOVERYXLOG").toString();
                step(failed, 0, "wal-fetch", s, k, "000000010000000000000001", xlog);
                step(
                        failed,
                        1,
                        "wal-fetch",
                        s,
                        k,
                        "00000002.history",
                        dir.resolve("RECOVERYHISTORY").toString());
            }
            // a database restore and backup up to their connection, which a closed port refuses (one just given up
            // by this process, so never a server of the host, and nothing that would accept and then not answer):
            // the commands' own code, the JDBC driver's connect and the child processes' lambdas, which no --help
            // loads; the store holds no database backup, so the restore ends in "no such backup" (8) or the refused
            // connection, the backup in the refused connection; either way nothing is created anywhere
            int closed;
            try (java.net.ServerSocket free =
                    new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                closed = free.getLocalPort();
            }
            String[] server = {
                "--db-host=127.0.0.1", "--db-port=" + closed, "--db-user=jiffoo_cds_training", s, k, "--quiet"
            };
            step(
                    failed,
                    -1,
                    concat(new String[] {"restore", "database", "--latest", "--into=jiffoo_cds_training"}, server));
            step(failed, -1, concat(new String[] {"backup", "database", "--db-name=jiffoo_cds_training"}, server));
            step(failed, 0, "backup", "database", "--help");
            step(failed, 0, "restore", "database", "--help");
            if (all && System.getenv("S3_ENDPOINT") == null && System.getenv("S3_BUCKET") == null) {
                // only the S3 client's classes matter; the store is unreachable, so the exit code is the store's (4)
                step(failed, 4, "list", "--store=s3://jiffoo-backup-cds-training", "--config=" + config, k, "--json");
            }
            List<String> initialise = new ArrayList<>(List.of(
                    "com.jiffoo.backup.postgres.PostgresSource",
                    "com.jiffoo.backup.postgres.PostgresRestoreTarget",
                    "org.postgresql.Driver"));
            if (all) {
                initialise.add("com.jiffoo.backup.minio.MinioSink");
            }
            for (String name : initialise) {
                try {
                    Class.forName(name, true, CdsTraining.class.getClassLoader());
                } catch (ClassNotFoundException | LinkageError e) {
                    failed.add("load " + name + ": " + e);
                }
            }
            // the database commands' classes that only a connection would load (no server here): the JDBC driver's
            // and this project's PostgreSQL module, loaded without initialising; ~0.05 s less per database command
            if (all) {
                loadAll(failed, "org/postgresql/", "com/jiffoo/backup/postgres/", "com/jiffoo/backup/wal/");
            } else {
                loadAll(failed, "org/postgresql/", "com/jiffoo/backup/postgres/");
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        for (String f : failed) {
            err.println("cds training: " + f + " (the archive holds fewer classes; start-up is slower, nothing else)");
        }
    }

    /** Loads (without initialising) every class under the given paths of the jar this class came from. */
    private static void loadAll(List<String> failed, String... prefixes) {
        ClassLoader loader = CdsTraining.class.getClassLoader();
        int loaded = 0;
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(Path.of(CdsTraining.class
                        .getProtectionDomain()
                        .getCodeSource()
                        .getLocation()
                        .toURI())
                .toFile())) {
            for (java.util.Enumeration<java.util.jar.JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                String entry = e.nextElement().getName();
                if (!entry.endsWith(".class") || entry.contains("-")) {
                    continue; // module-info, package-info, META-INF/versions/...
                }
                for (String prefix : prefixes) {
                    if (entry.startsWith(prefix)) {
                        try {
                            Class.forName(
                                    entry.substring(0, entry.length() - ".class".length())
                                            .replace('/', '.'),
                                    false,
                                    loader);
                            loaded++;
                        } catch (ClassNotFoundException | LinkageError skipped) {
                            // an optional integration (OSGi, Waffle, ...) whose library is not in the jar
                        }
                        break;
                    }
                }
            }
        } catch (IOException | java.net.URISyntaxException | RuntimeException e) {
            failed.add("load the PostgreSQL classes: " + e);
        }
        if (loaded == 0) {
            failed.add("load the PostgreSQL classes: none found in the jar");
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] both = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }

    private static void step(List<String> failed, int expected, String... args) {
        try {
            int code = Main.run(args);
            if (expected >= 0 && code != expected) {
                failed.add(String.join(" ", args[0], args.length > 1 ? args[1] : "") + ": exit " + code);
            }
        } catch (RuntimeException e) {
            failed.add(args[0] + ": " + e);
        }
    }
}
