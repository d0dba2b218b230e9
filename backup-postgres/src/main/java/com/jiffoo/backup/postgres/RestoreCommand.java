package com.jiffoo.backup.postgres;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * pg_restore's command line for {@link PostgresRestoreTarget}, and what its failure means. The command line names
 * only the database, as a conninfo ({@code --dbname=dbname='NAME'}: a name cannot be mistaken for a connection
 * string); host, user and password come from the child's environment ({@link ChildEnvironment}).
 *
 * @param pgRestore the binary; null for the newest one installed ({@link PgToolLocator#locateNewest})
 * @param role      {@code --role}, or null
 * @param jobs      {@code --jobs} when above 1
 */
record RestoreCommand(
        Path pgRestore,
        boolean cleanInPlace,
        boolean exitOnError,
        boolean singleTransaction,
        boolean noOwner,
        boolean noPrivileges,
        String role,
        int jobs) {

    /** The pg_restore to run: the configured one, else the newest installed (each candidate asked its version). */
    Path binary() {
        return pgRestore != null
                ? pgRestore
                : PgToolLocator.system().locateNewest("pg_restore").path();
    }

    /** The command line restoring into {@code into}'s database with {@code bin} (null: {@link #binary()}). */
    List<String> argv(PgConnection into, Path bin) {
        if (bin == null) {
            bin = binary();
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(bin.toString());
        cmd.add("--dbname=dbname=" + conninfoQuote(into.database()));
        if (cleanInPlace) {
            cmd.add("--clean");
            cmd.add("--if-exists");
        }
        if (exitOnError) {
            cmd.add("--exit-on-error");
        }
        if (singleTransaction) {
            cmd.add("--single-transaction");
        }
        if (noOwner) {
            cmd.add("--no-owner");
        }
        if (noPrivileges) {
            cmd.add("--no-privileges");
        }
        if (role != null) {
            cmd.add("--role=" + role);
        }
        if (jobs > 1) {
            cmd.add("--jobs=" + jobs);
        }
        return cmd;
    }

    private static String conninfoQuote(String v) {
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    /** What to do about a failed pg_restore into {@code connection}'s server, judged from its stderr. */
    static String advice(PgChild child, PgConnection connection) {
        if (child.said("role \"") && child.said("does not exist")) {
            return "A role named in the dump or in role(...) does not exist on " + connection.host() + ":"
                    + connection.port() + ". Create it (CREATE ROLE ...), or restore with noOwner(true)"
                    + " (and noPrivileges(true)), or choose an existing role(...).";
        }
        if (child.said("could not connect")
                || child.said("Connection refused")
                || child.said("password authentication failed")
                || child.said("no pg_hba.conf entry")) {
            return "pg_restore could not reach or log in to " + connection.describe() + ". Check host, port,"
                    + " user, password and pg_hba.conf.";
        }
        if (child.said("did not find magic string")
                || child.said("end of file")
                || child.said("could not read")
                || child.said("unexpected")
                || child.said("corrupt")) {
            return "The dump is damaged, truncated or not in pg_dump's custom format (-Fc). Restore another"
                    + " backup; verify it first with PgRestoreListCheck.";
        }
        return "See pg_restore's messages above; fix the cause and restore again.";
    }

    /**
     * Follows pg_restore's {@code --verbose} progress on stderr: tells {@code loaded} each table whose data pg_restore
     * has finished loading (it names a table when it starts its data, "processing data for table
     * \"schema.table\""; any later progress line means that COPY has ended) and swallows the progress lines, so
     * that the lines kept for error messages are pg_restore's errors and warnings. A line it does not know (an
     * error, a warning, a server notice, a translated message) is left to the caller. The table still loading when
     * pg_restore ends is not reported.
     */
    static final class Progress implements java.util.function.Predicate<String> {
        private static final java.util.regex.Pattern PROGRESS = java.util.regex.Pattern.compile("pg_restore:"
                + " (connecting|creating|processing|executing|restoring|restored|setting|disabling|enabling"
                + "|dropping|launching|finished|entering|implied) .*");
        private static final java.util.regex.Pattern DATA =
                java.util.regex.Pattern.compile("pg_restore: processing data for table \"(.*)\"");

        private final java.util.function.Consumer<String> loaded;
        private String loading;

        Progress(java.util.function.Consumer<String> loaded) {
            this.loaded = loaded;
        }

        /** Returns true for a progress line (handled here), false for any other. */
        @Override
        public boolean test(String line) {
            if (!PROGRESS.matcher(line).matches()) {
                return false;
            }
            if (loading != null) {
                String done = loading;
                loading = null;
                loaded.accept(done);
            }
            java.util.regex.Matcher m = DATA.matcher(line);
            if (m.matches()) {
                loading = m.group(1);
            }
            return true;
        }
    }
}
