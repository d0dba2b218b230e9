package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code restore database} read by hand ({@link RestoreCommands.Database#parse}): every command line it takes means
 * what picocli makes of it (every field of the command, its mixins and the global options, defaults included), and
 * everything else is left to picocli.
 */
class RestoreFastPathTest {

    /** Command lines the fast path takes. */
    private static final List<String[]> TAKEN = List.of(
            a("restore", "database", "--latest"),
            a("restore", "database", "--latest", "--into", "shop_copy"),
            a("restore", "database", "--latest", "--into=shop_copy", "--no-owner", "--jobs", "4"),
            a("restore", "database", "--existing", "--as-of", "2026-03-01T12:00:00Z", "-q"),
            a("restore", "database", "s3://b/p/database/db_backup_20260101_000000.sql.gpg", "--existing"),
            a("restore", "database", "database/db_backup_20260101_000000.sql.gpg", "--json", "--jobs=2"),
            a("-q", "restore", "database", "--latest", "--into", "x"),
            a("--json", "--config", "/etc/jiffoo/backup.properties", "restore", "database", "--latest"),
            a("--verbose", "restore", "database", "--latest", "--db-host", "db.internal", "--db-port=6432"),
            a("restore", "database", "--latest", "--db-name", "shop", "--db-user=backup", "--store", "file:/b"),
            a("restore", "database", "--latest", "--copy-to", "file:/c1", "--copy-to=file:/c2", "--key-file", "/k"),
            a("restore", "database", "--latest", "--log-dir", "/var/log/jiffoo", "--metrics-file", "/m.prom"),
            a("restore", "database", "--latest", "--log-file=/l.log", "--allow-unauthenticated"),
            a("restore", "database", "--allow-unencrypted", "--latest", "--store="),
            a("--copy-to", "file:/c1", "--copy-to", "file:/c2", "restore", "database", "--latest"),
            a("--store", "file:/b", "restore", "database", "restore"),
            a("restore", "database"));

    /** Command lines it leaves to picocli: help, errors, and forms it does not read. */
    private static final List<String[]> LEFT = List.of(
            a("restore", "database", "--help"),
            a("restore", "database", "-h"),
            a("restore", "--help"),
            a("help", "restore", "database"),
            a("restore", "files", "--latest"),
            a("backup", "database"),
            a("restore", "-q", "database", "--latest"),
            a("restore", "database", "--latest", "--latest"),
            a("restore", "database", "-q", "--quiet", "--latest"),
            a("restore", "database", "--latest", "--into", "a", "--into", "b"),
            a("restore", "database", "--latest", "--into"),
            a("restore", "database", "--latest", "--into", "--existing"),
            a("restore", "database", "--latest", "--jobs", "x"),
            a("restore", "database", "--latest", "--jobs", "0x10"),
            a("restore", "database", "--latest", "--jobs", "-1"),
            a("restore", "database", "--latest=true"),
            a("restore", "database", "-qv", "--latest"),
            a("restore", "database", "--latest", "--frobnicate"),
            a("restore", "database", "one", "two"),
            a("restore", "database", "--", "--latest"),
            a("restore", "database", "@/tmp/args"),
            a("restore", "database", "--latest", "-"),
            // found in review: picocli keeps only the copies given after the command, the fast path had both
            a("--copy-to", "file:/c1", "restore", "database", "--latest", "--copy-to", "file:/c2"),
            // attached values that picocli refuses (an option's name, --) or reads its own way
            a("restore", "database", "--latest", "--into=--existing"),
            a("restore", "database", "--latest", "--db-name=-vacuum"),
            a("restore", "database", "--latest", "--into=--"),
            a("--store=--json", "restore", "database", "--latest"),
            // a command's name as a value before the command: picocli starts that command there
            a("--store", "backup", "restore", "database", "--latest"),
            a("--store=restore", "restore", "database", "--latest"),
            a("--log-dir", "help", "restore", "database", "--latest"),
            a("--version"),
            a());

    @Test
    void readsEveryCommandLineItTakesAsPicocliDoes() throws Exception {
        for (String[] args : TAKEN) {
            RestoreCommands.Database.Parsed fast = RestoreCommands.Database.parse(args);
            assertThat(fast).as(String.join(" ", args)).isNotNull();

            CommandLine cl = Main.commandLine();
            CommandLine.ParseResult parsed = cl.parseArgs(args);
            RestoreCommands.Database picocli = (RestoreCommands.Database)
                    parsed.subcommand().subcommand().commandSpec().userObject();
            GlobalOptions.Values picocliValues = ((Main) cl.getCommand()).values;

            assertThat(fields(fast.command()))
                    .as(String.join(" ", args))
                    .isEqualTo(fields(picocli))
                    .isNotEmpty();
            assertThat(fields(fast.values())).as(String.join(" ", args)).isEqualTo(fields(picocliValues));
        }
    }

    @Test
    void leavesEverythingElseToPicocli() {
        for (String[] args : LEFT) {
            assertThat(RestoreCommands.Database.parse(args))
                    .as(String.join(" ", args))
                    .isNull();
        }
    }

    /** What the fast path leaves is still refused as before: the whole tree reports it, exit code 2. */
    @Test
    void aCommandLineItLeavesIsRefusedByPicocliAsBefore() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        Terminal.keepStderr();
        try {
            assertThat(Main.run("restore", "database", "--latest", "--latest")).isEqualTo(2);
            assertThat(Main.run("restore", "database", "--latest", "--jobs", "many"))
                    .isEqualTo(2);
        } finally {
            System.setErr(err);
            Terminal.keepStderr();
        }
        assertThat(captured.toString(StandardCharsets.UTF_8))
                .contains("should be specified only once")
                .contains("'many' is not an int");
    }

    private static String[] a(String... args) {
        return args;
    }

    /**
     * The values of every field of {@code o} that a command line sets, declared by its class or a mixin (nested
     * objects of this package flattened): what picocli fills in, defaults included, and its own fields left out.
     */
    private static Map<String, Object> fields(Object o) throws IllegalAccessException {
        Map<String, Object> out = new LinkedHashMap<>();
        collect(o, o.getClass().getSimpleName(), out);
        return out;
    }

    private static void collect(Object o, String prefix, Map<String, Object> out) throws IllegalAccessException {
        for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())
                        || f.isSynthetic()
                        || f.getType().getName().startsWith("picocli.")
                        || c == CliCommand.class) {
                    continue; // picocli's spec, and the run's own state (set when it runs)
                }
                f.setAccessible(true);
                Object v = f.get(o);
                String name = prefix + "." + f.getName();
                if (v != null
                        && v.getClass().getPackageName().equals(RestoreFastPathTest.class.getPackageName())
                        && !(v instanceof Enum<?>)) {
                    collect(v, name, out);
                } else {
                    out.put(name, v);
                }
            }
        }
    }
}
