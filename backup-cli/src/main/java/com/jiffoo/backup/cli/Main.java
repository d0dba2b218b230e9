package com.jiffoo.backup.cli;

import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Mixin;

/**
 * The {@code jiffoo-backup} command line: {@code java -jar jiffoo-backup.jar COMMAND ...}. Configuration comes from
 * flags, then the runbook's environment variables, then an optional {@code --config} file (see {@link Settings});
 * exit codes come from the library's {@link com.jiffoo.backup.ErrorCode}.
 *
 * <p>Commands: {@code backup database|files}, {@code restore database|files}, {@code verify}, {@code list},
 * {@code prune}, {@code copy}, {@code keygen}, {@code monitor}, {@code drill}. A new command is one more class in {@link #COMMANDS}.
 *
 * <p>Start-up: picocli builds a command's model by reflection, which costs more than the JVM's own start. A run builds
 * only the command its arguments name ({@code backup database ...} builds {@code backup}); the whole tree is built for
 * help, for a usage error (so the message can list every command) and when no command is named but arguments are
 * given that the top level does not take. {@code wal-push}, {@code wal-fetch} and {@code restore database} in their plain
 * forms are read by hand and build no model at all ({@link FastArgs}).
 */
@Command(
        name = "jiffoo-backup",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Backs up PostgreSQL databases and directories as encrypted, checksummed streams into a local"
                + " directory, S3 or MinIO; verifies, lists, prunes and restores them.",
        footerHeading = "%nSettings (flags, then environment, then --config FILE):%n",
        footer = {
            "  Store:      S3_BUCKET=s3://bucket/prefix or a bucket name",
            "              (S3_BACKUP_BUCKET too), S3_ENDPOINT (S3-compatible),",
            "              MINIO_ENDPOINT (MinIO client), AWS_REGION, AWS_ACCESS_KEY_ID,",
            "              AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE;",
            "              or BACKUP_DIR=/var/backups/jiffoo; or --store",
            "  Immutable:  S3_OBJECT_LOCK=compliance|governance, S3_OBJECT_LOCK_DAYS",
            "              (or ?objectLock=...&objectLockDays=N on an s3:// URI; docs/copies.md)",
            "  Copies:     BACKUP_COPIES=URI,URI or --copy-to URI (repeatable); BACKUP_DIR",
            "              beside S3_BUCKET is a local copy (docs/copies.md)",
            "  Database:   DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD, DB_SSLMODE",
            "              (else PGHOST, ...)",
            "  Keys:       ENCRYPTION_KEY_FILE (passphrase), ENCRYPTION_PUBLIC_KEY_FILE,",
            "              ENCRYPTION_SECRET_KEY_FILE, ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE",
            "  Other:      SOURCE_DIR, RETENTION_DAYS (30), SLACK_WEBHOOK_URL,",
            "              MAX_BACKUP_AGE_HOURS (26)",
            "  Logs:       LOG_DIR (a file per job), LOG_FILE, QUIET=true (quiet on success)",
            "  Metrics:    METRICS_FILE (node_exporter textfile), PUSHGATEWAY_URL",
            "Secrets (DB_PASSWORD, AWS keys, SLACK_WEBHOOK_URL, PUSHGATEWAY_URL) are",
            "read from the environment or the config file only, and never printed.",
            "Guide: docs/runbook.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:success",
            " 1:internal error (a bug; rerun with --verbose and report it)",
            " 2:bad or missing setting or usage (the message names what to set)",
            " 3:the source failed (pg_dump, reading the directory)",
            " 4:the store failed (disk, network, permissions, credentials)",
            " 5:a backup is damaged, incomplete or does not match its manifest",
            " 6:a backup cannot be decrypted with the configured key",
            " 7:the restore target failed; it keeps its previous content",
            " 8:the backup or object does not exist",
            " 9:monitor: WARNING",
            "10:monitor: CRITICAL",
            "11:backup: committed in some stores but failed in others (copies, docs/copies.md)",
            "12:drill: the drill failed (the backup did not restore, or a check failed)",
            "13:drill: every check passed, but over the RTO target",
            "14:drill: the drill could not run (store or database server unreachable)"
        })
public final class Main implements java.util.concurrent.Callable<Integer> {

    @Mixin
    GlobalOptions options;

    /** Holds the global options' values for every subcommand. */
    final GlobalOptions.Values values = new GlobalOptions.Values();

    /** Runs the command line and exits with its exit code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** The commands, in the order help lists them. */
    static final List<Class<?>> COMMANDS = List.of(
            BackupCommands.class,
            RestoreCommands.class,
            VerifyCommand.class,
            ListCommand.class,
            PruneCommand.class,
            CopyCommand.class,
            KeygenCommand.class,
            MonitorCommand.class,
            DrillCommands.class,
            WalCommands.Push.class,
            WalCommands.Fetch.class,
            WalVerifyCommand.class,
            WalUploaderCommand.class,
            HelpCommand.class);

    /**
     * The names of {@link #COMMANDS} but help, in the same order: written out, because reading a command's annotation
     * costs the start-up a dynamic proxy (a test checks that they agree).
     */
    static final List<String> NAMES = List.of(
            "backup",
            "restore",
            "verify",
            "list",
            "prune",
            "copy",
            "keygen",
            "monitor",
            "drill",
            WalCommands.PUSH,
            WalCommands.FETCH,
            "wal-verify",
            WalUploaderCommand.NAME);

    /** The whole command line, with its help wrapped at spaces ({@link UsageHelp}). */
    static CommandLine commandLine() {
        return commandLine(COMMANDS);
    }

    /** The command line with only {@code commands} below the top level. */
    private static CommandLine commandLine(List<Class<?>> commands) {
        CommandLine cl = new CommandLine(new Main());
        for (Class<?> command : commands) {
            cl.addSubcommand(command);
        }
        UsageHelp.install(cl);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        return cl;
    }

    /**
     * The commands a run of {@code args} needs: the one named by the first argument that is a command's name, none for
     * {@code --version} alone, all of them otherwise (help, no arguments, anything the top level does not know).
     */
    static List<Class<?>> commandsFor(String... args) {
        for (String arg : args) {
            if (arg.equals("--") || arg.equals("help") || arg.equals("-h") || arg.equals("--help")) {
                break; // help lists what it finds below: the whole tree
            }
            int i = NAMES.indexOf(arg);
            if (i >= 0) {
                return List.of(COMMANDS.get(i));
            }
        }
        return args.length > 0 && Arrays.stream(args).allMatch(a -> a.equals("--version") || a.equals("-V"))
                ? List.of()
                : COMMANDS;
    }

    /** Runs the command line and returns its exit code. */
    public static int run(String... args) {
        Integer fast = WalCommands.fastPath(args); // one process per WAL file: no picocli model
        if (fast == null) {
            fast = RestoreCommands.Database.fastPath(args); // an emergency's critical path: no picocli model
        }
        if (fast != null) {
            return fast;
        }
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            System.out.println(Version.text());
            return 0;
        }
        List<Class<?>> commands = commandsFor(args);
        WarmUp.start(commands.size() == 1 ? commands.get(0) : null, args);
        CommandLine cl = commandLine(commands);
        if (commands != COMMANDS) {
            // a usage error is reported by the whole tree, as if it had been built from the start (nothing has run)
            cl.setParameterExceptionHandler((ex, a) -> run(commandLine(), a));
            return cl.execute(args);
        }
        return run(cl, args);
    }

    /** Runs {@code args} on the whole command line {@code cl}. */
    private static int run(CommandLine cl, String... args) {
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            String message = usageMessage(ex.getMessage(), a, c.getCommandSpec());
            Terminal.err().println("error: " + message);
            Terminal.err()
                    .println("Run `jiffoo-backup "
                            + (c.getCommandSpec().qualifiedName(" ").replaceFirst("^jiffoo-backup ?", "") + " --help")
                                    .trim()
                            + "` for usage.");
            if (Arrays.asList(a).contains("--json")) {
                printJsonError(c, message);
            }
            // a wal-fetch that cannot even start must stop recovery, not read as "not found"
            return WalCommands.exitCode(c.getCommandName(), com.jiffoo.backup.ErrorCode.CONFIGURATION);
        });
        return cl.execute(args);
    }

    /** {@code --json} promises one JSON line on stdout, the error included, also for a usage error. */
    private static void printJsonError(CommandLine c, String message) {
        java.util.Map<String, Object> error = new java.util.LinkedHashMap<>();
        error.put("command", c.getCommandSpec().qualifiedName(" ").replaceFirst("^jiffoo-backup ?", ""));
        error.put("status", "error");
        error.put("error", com.jiffoo.backup.ErrorCode.CONFIGURATION.name());
        error.put("exitCode", com.jiffoo.backup.ErrorCode.CONFIGURATION.exitCode());
        error.put("message", message);
        try {
            System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(error));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A usage error's message without secrets. Secrets have no flags, so someone who types one types an unknown
     * option: its value is replaced by {@code ***}, given as {@code --db-password=…} or as the next argument
     * ({@code --db-password …}, as a shell user gives an option's value), and so is the value of every secret set in
     * the environment.
     *
     * @param args the command line
     * @param spec the command whose arguments failed to parse (its parents' options are known too)
     */
    static String usageMessage(String message, String[] args, CommandLine.Model.CommandSpec spec) {
        String m = message == null ? "" : message.replaceAll("(--?[A-Za-z0-9][\\w-]*)=[^'\\s,]*", "$1=***");
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].startsWith("-")
                    && !args[i].equals("--")
                    && !args[i].contains("=")
                    && !known(spec, args[i])
                    && !known(spec, args[i + 1])) {
                String value = args[i + 1];
                m = m.replace("'" + value + "'", "'***'");
                if (value.length() >= 4) {
                    m = m.replace(value, "***");
                }
            }
        }
        try {
            return Settings.load(System.getenv(), null).redact(m);
        } catch (RuntimeException e) {
            return m;
        }
    }

    /** Whether {@code arg} is an option of {@code spec} or of a command above it. */
    private static boolean known(CommandLine.Model.CommandSpec spec, String arg) {
        for (CommandLine.Model.CommandSpec s = spec; s != null; s = s.parent()) {
            if (arg.startsWith("-") && s.findOption(arg) != null) {
                return true;
            }
        }
        return false;
    }

    /** Without a command: the usage, and exit code 2. */
    @Override
    public Integer call() {
        commandLine().usage(Terminal.err()); // the whole tree's, also when this run built only part of it
        return com.jiffoo.backup.ErrorCode.CONFIGURATION.exitCode();
    }

    /** The version of the launcher and library. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {text()};
        }

        /** {@code jiffoo-backup VERSION}. */
        static String text() {
            String v = Main.class.getPackage().getImplementationVersion();
            return "jiffoo-backup " + (v == null ? "(development build)" : v);
        }
    }
}
