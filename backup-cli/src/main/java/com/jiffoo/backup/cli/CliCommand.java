package com.jiffoo.backup.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.store.StoreProviders;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every command does around its work: set up logging, read the settings, print people's lines (or, with
 * {@code --json}, one JSON line), and turn a failure into its message and exit code — with every secret's value
 * replaced, whatever the message holds.
 */
abstract class CliCommand implements Callable<Integer> {
    /** The {@code --json} writer, made on first use: a command without {@code --json} does not build a mapper. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);
    }

    @Mixin
    GlobalOptions options;

    @Spec
    CommandSpec spec;

    /** The settings of this run; set before {@link #run}. */
    Settings settings;

    /** The global options' values of this run: from picocli's root, or from a fast path ({@link FastArgs}). */
    private GlobalOptions.Values values;

    private final Map<String, Object> summary = new LinkedHashMap<>();
    private final CommitGate gate = new CommitGate();
    /** --quiet: what {@link #say} held back, printed only when the command does not succeed. */
    private final java.util.List<String> heldBack = new java.util.ArrayList<>();

    private boolean quiet;
    /** Whether log lines go to a file (LOG_FILE or LOG_DIR). */
    private boolean logged;
    /** The exit code of the finished run, for a stop that let its commit finish. */
    private volatile int exitStatus = ErrorCode.INTERNAL.exitCode();

    /** Does the work, putting the facts of the result into {@code summary} and printing with {@link #say}. */
    abstract void run(Map<String, Object> summary) throws Exception;

    /** The exit code of a run that did not fail: 0, or what the command found (the monitor's health). */
    int exitCode() {
        return 0;
    }

    /** The exit code of a failure with {@code code}: the code's own, unless the command says otherwise. */
    int failureExitCode(ErrorCode code) {
        return code.exitCode();
    }

    /** Adds this command's flags to the settings (the flags that stand for settings, e.g. {@code --db-name}). */
    void flags(Settings s) {}

    @Override
    public final Integer call() {
        return call(options.values(), spec.qualifiedName(" ").replaceFirst("^jiffoo-backup ", ""));
    }

    /**
     * Runs the command with the global options {@code v} as {@code name} ({@code restore database}): what picocli's
     * {@link #call()} does, and what a fast path that parsed the command line by hand calls.
     */
    final int call(GlobalOptions.Values v, String name) {
        values = v;
        summary.put("command", name);
        java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
        Thread worker = Thread.currentThread();
        Thread stop = new Thread(() -> stopped(name, finished, worker), "jiffoo-backup-shutdown");
        Runtime.getRuntime().addShutdownHook(stop);
        int code = ErrorCode.INTERNAL.exitCode();
        try {
            code = execute(v);
            return code;
        } finally {
            exitStatus = code;
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(stop);
            } catch (IllegalStateException e) {
                // the process is shutting down: the hook is running
            }
        }
    }

    /** The settings of a run: the environment, the config file, and the global options' flags over them. */
    static Settings settings(GlobalOptions.Values v) {
        return Settings.load(System.getenv(), v.config)
                .flag("STORE", v.store)
                .flag("BACKUP_COPIES", v.copyTo.isEmpty() ? null : String.join(",", v.copyTo))
                .flag("ENCRYPTION_KEY_FILE", v.keyFile)
                .flag("ALLOW_UNAUTHENTICATED", v.allowUnauthenticated ? "true" : null)
                .flag("ALLOW_UNENCRYPTED", v.allowUnencrypted ? "true" : null)
                .flag("LOG_FILE", v.logFile == null ? null : v.logFile.toString())
                .flag("LOG_DIR", v.logDir == null ? null : v.logDir.toString())
                .flag("QUIET", v.quiet ? "true" : null)
                .flag("METRICS_FILE", v.metricsFile == null ? null : v.metricsFile.toString());
    }

    private int execute(GlobalOptions.Values v) {
        long started = System.nanoTime();
        failedWith = null;
        int code = run(v);
        if (settings != null) {
            metrics(code, java.time.Duration.ofNanos(System.nanoTime() - started));
        }
        return code;
    }

    /** The error code of a failed run, for the metrics. */
    private ErrorCode failedWith;

    /**
     * Records the run in METRICS_FILE (a node_exporter textfile) and at PUSHGATEWAY_URL when set; a failure to do so
     * is a warning on stderr and leaves the exit code alone (the work itself is done).
     */
    private void metrics(int code, java.time.Duration took) {
        java.util.Optional<String> file = settings.get("METRICS_FILE");
        java.util.Optional<String> gateway = settings.get("PUSHGATEWAY_URL");
        if (file.isEmpty() && gateway.isEmpty()) {
            return;
        }
        String[] ok = PrometheusMetrics.operationAndKind(summary.get("command").toString(), summary.get("kind"));
        Object size = summary.get("sizeBytes");
        PrometheusMetrics.Run run = new PrometheusMetrics.Run(
                ok[0],
                ok[1],
                Stores.configuredLocation(settings),
                code,
                code == 0 ? null : failedWith != null ? failedWith.name() : "EXIT_" + code,
                took,
                java.time.Instant.now(),
                code == 0 && size instanceof Number n ? n.longValue() : null);
        try {
            file.ifPresent(f -> PrometheusMetrics.writeFile(Path.of(f), run));
            gateway.ifPresent(g ->
                    PrometheusMetrics.push(settings.httpUrl("PUSHGATEWAY_URL").orElseThrow(), run));
        } catch (RuntimeException e) {
            Terminal.err().println("warning: " + settings.redact(String.valueOf(e.getMessage())));
        }
    }

    private int run(GlobalOptions.Values v) {
        try {
            settings = settings(v);
            quiet = settings.bool("QUIET").orElse(false);
            Settings s = settings;
            Logging.configure(
                    v.verbose,
                    s.get("LOG_FILE").map(Path::of).orElse(null),
                    s.get("LOG_DIR").map(Path::of).orElse(null),
                    Logging.jobName(summary.get("command").toString()),
                    line -> s.redact(forOperators(line)));
            logged = s.get("LOG_FILE").isPresent() || s.get("LOG_DIR").isPresent();
            flags(settings);
            run(summary);
            summary.putIfAbsent("status", "ok");
            if (v.json) {
                System.out.println(json(summary));
            }
            int code = exitCode();
            if (code != 0) {
                printHeldBack();
            }
            return code;
        } catch (BackupException e) {
            return fail(e.code(), e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            return fail(ErrorCode.CONFIGURATION, e.getMessage(), e);
        } catch (IOException | UncheckedIOException e) {
            return fail(ErrorCode.STORAGE, e.getMessage(), e);
        } catch (Exception e) {
            return fail(ErrorCode.INTERNAL, e + " (a bug: rerun with --verbose and report it)", e);
        }
    }

    /**
     * The process is being stopped (SIGTERM from Kubernetes or systemd, Ctrl-C) while the command runs: close the
     * stores so that the work fails the way the library cleans up after (multipart uploads aborted, a new database
     * dropped, temporary files deleted), and give it up to 30 s to do so. Closing a local directory store does not
     * stop a write into it, so the command's thread is interrupted too: without that a backup to BACKUP_DIR ran on
     * and committed while the message said nothing was committed.
     *
     * <p>Once a restore's commit has begun (the target is being swapped: see {@link CommitGate}), stopping it would
     * leave the target half-swapped, so it is let finish instead, and the process exits with the code of the result
     * it printed (restored, or the error saying the previous content is back). A commit that has not begun by then
     * never begins.
     */
    private void stopped(String name, java.util.concurrent.CountDownLatch finished, Thread worker) {
        if (finished.getCount() == 0) {
            return;
        }
        if (gate.stop()) {
            Terminal.err()
                    .println("warning: " + name + " was stopped during the commit; letting it finish, so that"
                            + " the target is either restored or back as it was (the result follows)");
            boolean done = false;
            try {
                done = finished.await(5, java.util.concurrent.TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (done) {
                System.out.flush();
                Runtime.getRuntime().halt(exitStatus); // the code of the result printed, not that of the signal
            }
            Terminal.err()
                    .println("error: " + name + " did not finish its commit in 5 minutes; the next restore"
                            + " into the same target finishes it (see the runbook: in-place restore journal)");
            return;
        }
        Terminal.err().println("error: " + name + " was stopped; cleaning up (nothing is committed)");
        Stores.closeAll();
        worker.interrupt();
        try {
            finished.await(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The library's advice names its Java API (replaceExisting(true), PGUSER or PgConnection ...): an operator needs
     * the launcher's flag or setting instead.
     */
    private static final String[][] FOR_OPERATORS = {
        {"Pass replaceExisting(true) to replace its content", "Pass --replace to replace its content"},
        {"or restore with existingDatabase(...)", "or restore over it with --existing"},
        {"or restore with newDatabase(...)", "or restore into a new database with --into NAME"},
        {"restore with allowSymlinksOutsideTarget(true)", "restore with --allow-symlinks-outside-target"},
        {
            "restoring this backup with DirectoryRestoreTarget needs allowSymlinksOutsideTarget(true)",
            "restoring this backup needs `restore files --allow-symlinks-outside-target`"
        },
        {"(PGUSER/PGPASSWORD or PgConnection)", "(DB_USER/DB_PASSWORD, or --db-user)"},
        {"(PGDATABASE or PgConnection.database)", "(DB_NAME or --db-name)"},
        {"(PGHOST/PGPORT)", "(DB_HOST/DB_PORT)"},
        {"(allowUnauthenticated(true))", "(--allow-unauthenticated)"},
        {"(allowUnencrypted(true))", "(--allow-unencrypted)"},
        {
            "give the backup host an OpenPGP signing key (signingKey(...)) and its public key to the hosts that"
                    + " verify and restore (signer(...))",
            "set ENCRYPTION_SIGNING_KEY_FILE to the backup host's"
                    + " OpenPGP secret key (create one with `keygen --openpgp --public signer-public.asc --secret"
                    + " signer-secret.asc`) and give signer-public.asc to the hosts that verify and restore"
                    + " (ENCRYPTION_SIGNER_PUBLIC_KEY_FILE)"
        },
        {
            "configure the key file the backups are made with (passphrase(...))",
            "set ENCRYPTION_KEY_FILE (the key file the backups are made with)"
        },
        {
            "add the backup host's signing public key (signer(...))",
            "set ENCRYPTION_SIGNER_PUBLIC_KEY_FILE to the backup host's signing public key"
        },
        {"add its public key (signer(...))", "add its public key to ENCRYPTION_SIGNER_PUBLIC_KEY_FILE"},
        {"pass allowFutureDated(true)", "pass --allow-future-dated"},
    };

    /** The message with the library's API names replaced by the launcher's flags and settings. */
    static String forOperators(String message) {
        if (message == null) {
            return null;
        }
        String out = message;
        for (String[] r : FOR_OPERATORS) {
            out = out.replace(r[0], r[1]);
        }
        return out;
    }

    private int fail(ErrorCode code, String message, Throwable e) {
        failedWith = code;
        message = forOperators(message);
        String text = settings == null ? message : settings.redact(message);
        // a failure before logging was set up (a bad setting): warnings on stderr, as always; else nothing changes
        Logging.configure(values.verbose, null, null, "", CliCommand::forOperators);
        org.slf4j.LoggerFactory.getLogger(CliCommand.class)
                .debug("{} failed", summary.get("command"), values.verbose ? redacted(e) : null);
        if (logged) {
            org.slf4j.LoggerFactory.getLogger(CliCommand.class)
                    .error("{} failed ({}): {}", summary.get("command"), code, text);
        }
        printHeldBack();
        Terminal.err().println("error: " + text);
        if (values.json) {
            summary.put("status", "error");
            summary.put("error", code.name());
            summary.put("exitCode", failureExitCode(code));
            summary.put("message", text);
            System.out.println(json(summary));
        }
        return failureExitCode(code);
    }

    /** The exception with secrets taken out of its messages, for a --verbose stack trace. */
    private Throwable redacted(Throwable e) {
        if (e == null || settings == null) {
            return null;
        }
        Throwable r =
                new Throwable(e.getClass().getName() + ": " + settings.redact(e.getMessage()), redacted(e.getCause()));
        r.setStackTrace(e.getStackTrace());
        return r;
    }

    /**
     * Prints a line for people on stdout, unless --json is on; with --quiet it is held back, and printed only when
     * the command does not succeed. It goes to the log too (when there is one).
     */
    void say(String line) {
        String text = settings == null ? line : settings.redact(line);
        if (logged) {
            org.slf4j.LoggerFactory.getLogger(CliCommand.class).info("{}", text);
        }
        if (!values.json) {
            if (quiet) {
                heldBack.add(text);
            } else {
                PrintStream out = System.out;
                out.println(text);
            }
        }
    }

    private void printHeldBack() {
        heldBack.forEach(System.out::println);
        heldBack.clear();
    }

    /** Whether --json is on. */
    boolean json() {
        return values.json;
    }

    /**
     * The progress listener: a line on a terminal, nothing otherwise (or with --json). It also holds a restore's
     * commit to the {@link CommitGate}: refused once the process is being stopped.
     */
    Terminal progress() {
        return Terminal.progress(json(), gate);
    }

    /**
     * Whether a restore's commit has begun, and whether the process is being stopped: decided under one lock, so
     * that a stop either comes before the commit (which then never begins: "nothing is committed" is true) or
     * after it began (and the commit is let finish).
     */
    static final class CommitGate {
        private boolean stopping;
        private boolean committing;

        /** The commit of {@code key} is about to begin; refused once the process is being stopped. */
        synchronized void begin(String key) {
            if (stopping) {
                throw new com.jiffoo.backup.RestoreException("Stopped before the commit: " + key + " was not put in"
                        + " place, and the target was not changed.");
            }
            committing = true;
        }

        /** The process is being stopped; returns whether the commit had begun already. */
        synchronized boolean stop() {
            stopping = true;
            return committing;
        }
    }

    /** Where a backup is, for people: its local file, or the store's location and its key. */
    static String where(Sink store, String key) {
        return store instanceof BackupFileSink f
                ? f.pathOf(key).map(Object::toString).orElse(key)
                : store.location() + "/" + key;
    }

    /**
     * The full name of a backup that {@code restore} and {@code verify} take from any directory: its
     * {@code s3://bucket/prefix/kind/file} or {@code minio://host:port/bucket/prefix/kind/file} URI, or
     * {@code file:/path/kind/file} for a local store or file.
     */
    static String uri(Sink store, String key) {
        return store instanceof BackupFileSink ? "file:" + where(store, key) : StoreProviders.backupUri(store, key);
    }

    /**
     * The stores that could not serve a read ({@link StoreFallback}), as the JSON summary shows them
     * ({@code storeFailures}): each store's {@code location}, its {@code error} code and the {@code message} in the
     * launcher's terms ({@link #forOperators}).
     */
    static List<Map<String, Object>> storeFailures(List<StoreFallback.Failure> failures) {
        return failures.stream()
                .map(f -> {
                    Map<String, Object> d = new LinkedHashMap<>();
                    d.put("location", f.store().location());
                    d.put("error", f.error().code().name());
                    d.put("message", forOperators(f.error().getMessage()));
                    return d;
                })
                .toList();
    }

    /** The facts of one backup for a summary. */
    static Map<String, Object> describe(BackupManifest m, Sink store) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("kind", m.kind());
        d.put("id", m.id());
        d.put("key", m.objectKey());
        d.put("uri", uri(store, m.objectKey()));
        d.put("location", store.location());
        d.put("completedAt", m.completedAt().toString());
        d.put("sizeBytes", m.objectSize());
        d.put("sha256", m.objectSha256());
        d.put("plaintextBytes", m.plaintextSize());
        d.put("authenticity", m.authenticity().name().toLowerCase(java.util.Locale.ROOT));
        m.signedBy().ifPresent(by -> d.put("signedBy", by));
        return d;
    }

    /** Closes every store of the list (the store and its copies), then throws the first failure, if any. */
    static void close(java.util.List<Sink> stores) {
        com.jiffoo.backup.internal.Closing.closeAll(stores, RuntimeException.class, store -> close(store));
    }

    /** Closes a store, turning its failure into a storage error. */
    static void close(Sink store) {
        try {
            Stores.close(store);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String json(Map<String, Object> map) {
        try {
            String line = Json.MAPPER.writeValueAsString(map);
            return settings == null ? line : settings.redact(line);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
