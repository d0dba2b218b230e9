package com.jiffoo.backup.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A command line read by hand, for the commands whose start-up is on someone's critical path ({@code wal-push} and
 * {@code wal-fetch}, once per WAL file; {@code restore database}, in an emergency): picocli builds its model of the
 * commands by reflection, which costs more than the rest of the start. A fast path takes only the plain forms of the
 * options it knows, each at most once ({@code --copy-to} repeatable); on anything else — {@code --help}, an unknown,
 * repeated or clustered option, a missing value, a value starting with {@code -} or {@code @}, an {@code @file},
 * {@code --} — it gives up ({@link GiveUp}) before anything has run, and picocli parses the same arguments and reports
 * what is wrong as it always does.
 */
final class FastArgs {
    /** Leaves the fast path: picocli reads the command line instead. */
    static final class GiveUp extends RuntimeException {
        private static final long serialVersionUID = 1L;

        GiveUp() {
            super(null, null, false, false);
        }
    }

    /** The global options with a value ({@link GlobalOptions}). */
    private static final List<String> GLOBAL_VALUED =
            List.of("--store", "--copy-to", "--key-file", "--config", "--log-file", "--log-dir");

    private final String[] args;
    private int next;
    private final Set<String> given = new HashSet<>();
    private final List<String> copyTo = new ArrayList<>();
    private final GlobalOptions.Values values = new GlobalOptions.Values();
    /** The value attached to the option just taken ({@code --into=x}), or null. */
    private String pending;
    /** The value {@link #value} gave last, or null. */
    private String lastValue;

    /** The arguments {@code args} from index {@code from} on. */
    FastArgs(String[] args, int from) {
        this.args = args.clone();
        this.next = from;
    }

    /** Whether an argument is left. */
    boolean hasNext() {
        return next < args.length;
    }

    /** The next argument as given, without taking it. */
    String peek() {
        return args[next];
    }

    /** Takes the next argument as a positional one, as given; an {@code @file} gives up (picocli would expand it). */
    String positional() {
        String a = args[next++];
        if (a.startsWith("@")) {
            throw new GiveUp();
        }
        return a;
    }

    /**
     * The next argument. An option with a value attached ({@code --into=x}) comes back as its name, the value held for
     * {@link #value}; an argument picocli would read differently ({@code --}, an {@code @file}, a lone {@code -}) gives
     * up.
     */
    String take() {
        String a = args[next++];
        pending = null;
        if (a.equals("--") || a.equals("-") || a.startsWith("@")) {
            throw new GiveUp();
        }
        int eq = a.indexOf('=');
        if (a.startsWith("--") && eq > 0) {
            pending = a.substring(eq + 1);
            return a.substring(0, eq);
        }
        return a;
    }

    /** Whether {@code a} (as {@link #take} gave it) is an option rather than a positional argument. */
    static boolean isOption(String a) {
        return a.startsWith("-");
    }

    /**
     * The value of the option {@code name} just taken: attached, or the next argument. Gives up when it is missing,
     * starts with {@code -} or {@code @} (attached or not), or the option was given before.
     */
    String value(String name) {
        once(name);
        String v = pending;
        pending = null;
        if (v == null) {
            if (!hasNext()) {
                throw new GiveUp();
            }
            v = args[next++];
        }
        if (v.startsWith("-") || v.startsWith("@")) {
            throw new GiveUp(); // picocli refuses some such values (an option's name, --), takes others
        }
        lastValue = v;
        return v;
    }

    /** The value {@link #value} gave last, or null. */
    String lastValue() {
        return lastValue;
    }

    /** The flag {@code name} just taken: gives up when a value was attached or it was given before. */
    void flag(String name) {
        if (pending != null) {
            throw new GiveUp();
        }
        once(name);
    }

    /** Records that {@code name} was given; picocli refuses a repeated option, so a repeat gives up. */
    private void once(String name) {
        if (!name.equals("--copy-to") && !given.add(name)) {
            throw new GiveUp();
        }
    }

    /**
     * Takes {@code a} (from {@link #take}) if it is a global option the fast paths share: the flags {@code -v},
     * {@code -q}, {@code --allow-unauthenticated}, {@code --allow-unencrypted}, and the options with a value.
     *
     * @return whether {@code a} was one
     */
    boolean global(String a) {
        switch (a) {
            case "-v", "--verbose" -> {
                flag("--verbose");
                values.verbose = true;
            }
            case "-q", "--quiet" -> {
                flag("--quiet");
                values.quiet = true;
            }
            case "--allow-unauthenticated" -> {
                flag(a);
                values.allowUnauthenticated = true;
            }
            case "--allow-unencrypted" -> {
                flag(a);
                values.allowUnencrypted = true;
            }
            default -> {
                if (!GLOBAL_VALUED.contains(a)) {
                    return false;
                }
                String v = value(a);
                switch (a) {
                    case "--store" -> values.store = v;
                    case "--copy-to" -> copyTo.add(v);
                    case "--key-file" -> values.keyFile = v;
                    case "--config" -> values.config = Path.of(v);
                    case "--log-file" -> values.logFile = Path.of(v);
                    default -> values.logDir = Path.of(v);
                }
            }
        }
        return true;
    }

    /** The global options' values read so far (for {@code --json} and {@code --metrics-file}, where a path takes them). */
    GlobalOptions.Values values() {
        values.copyTo = List.copyOf(copyTo);
        return values;
    }
}
