package com.jiffoo.backup.postgres;

import com.jiffoo.backup.RestoreException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replaces an existing database by a fresh one restored next to it, by name: the way
 * {@link PostgresRestoreTarget#existingDatabase(PgConnection)} restores over a database by default.
 *
 * <p>{@link #prepare} reads the existing database's properties and refuses when other sessions are connected; the
 * target creates the fresh database {@code <name>_jbr_<hex>} with the same owner, encoding, locale (libc or ICU),
 * tablespace, connection limit, privileges ({@code GRANT ... ON DATABASE}) and settings ({@code ALTER DATABASE/ROLE
 * ... SET}) — pg_dump without {@code --create} records none of these — and restores into it. Until
 * {@link #swapIn()} the existing database is not touched. {@code swapIn} renames, in one transaction,
 * {@code name -> <name>_jbp_<hex>} and {@code <name>_jbr_<hex> -> name}, and gives the new database the old one's
 * comment; then it drops the previous database, unless that holds relations the restored one lacks (tables made
 * after the backup, tables the backup left out): those are kept in the previous database, which is then left under
 * its new name and reported.
 *
 * <p>Why not {@code pg_restore --clean} in one transaction: it drops each object of the dump before recreating it,
 * and on a partitioned table it drops a partition's constraint before the parent's, which PostgreSQL refuses
 * ("cannot drop inherited constraint"); so an in-place restore of a partitioned schema always fails. A restore into
 * a fresh database has no such order to get right, keeps the old content whole until everything passed, and can run
 * in parallel. It needs {@code CREATEDB}, ownership of the database (to rename it), room for a second copy, and no
 * other session connected when it swaps (PostgreSQL cannot rename a database in use).
 *
 * <p>Not thread-safe; one per restore.
 */
final class DatabaseSwap {
    private static final Logger log = LoggerFactory.getLogger(DatabaseSwap.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Settings whose value is a list of names (pg_dump's {@code variable_is_guc_list_quote}). */
    private static final Set<String> LIST_SETTINGS = Set.of(
            "local_preload_libraries",
            "search_path",
            "session_preload_libraries",
            "shared_preload_libraries",
            "temp_tablespaces",
            "unix_socket_directories");

    private final RestoreDatabases target;
    private final PgConnection connection;
    private final String name;
    private final String staging;
    private final String previous;
    private final String owner;
    private final String createOptions;
    private final String comment;
    private final List<String[]> grants;
    private final List<String[]> settings;
    /** The backends this swap itself opened on the database (to compare relations), ended before the rename. */
    private final List<Integer> ownPids = new ArrayList<>();

    private DatabaseSwap(
            RestoreDatabases target,
            PgConnection connection,
            String owner,
            String createOptions,
            String comment,
            List<String[]> grants,
            List<String[]> settings) {
        this.target = target;
        this.connection = connection;
        this.name = connection.database();
        String hex = HexFormat.of().formatHex(randomBytes());
        this.staging = shortened(name, 13) + "_jbr_" + hex;
        this.previous = shortened(name, 13) + "_jbp_" + hex;
        this.owner = owner;
        this.createOptions = createOptions;
        this.comment = comment;
        this.grants = grants;
        this.settings = settings;
    }

    /**
     * Reads what the fresh database must copy from the existing one.
     *
     * @throws RestoreException when the database does not exist, other sessions are connected to it, or the server
     *                          cannot be reached; nothing has changed then
     */
    static DatabaseSwap prepare(RestoreDatabases target, PgConnection connection, String maintenanceDatabase) {
        String db = connection.database();
        try (Connection c = target.maintenance()) {
            int version = Integer.parseInt(one(c, "SHOW server_version_num"));
            String locale = version >= 170000
                    ? "d.datlocprovider, d.datlocale"
                    : version >= 150000 ? "d.datlocprovider, d.daticulocale" : "'c', NULL";
            String owner;
            StringBuilder options = new StringBuilder();
            String comment;
            try (PreparedStatement s = c.prepareStatement("SELECT pg_catalog.pg_get_userbyid(d.datdba),"
                    + " pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, " + locale + ","
                    + " t.spcname, d.datconnlimit, pg_catalog.shobj_description(d.oid, 'pg_database')"
                    + " FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
                    + " WHERE d.datname = ?")) {
                s.setString(1, db);
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        throw new RestoreException(
                                "The database " + db + " does not exist on " + connection.host() + ":"
                                        + connection.port() + ". Create it first, or restore with newDatabase(...).",
                                null,
                                target.describe(),
                                null);
                    }
                    owner = r.getString(1);
                    options.append(" ENCODING ")
                            .append(PostgresRestoreTarget.literal(r.getString(2)))
                            .append(" LC_COLLATE ")
                            .append(PostgresRestoreTarget.literal(r.getString(3)))
                            .append(" LC_CTYPE ")
                            .append(PostgresRestoreTarget.literal(r.getString(4)));
                    switch (r.getString(5)) {
                        case "i" ->
                            options.append(" LOCALE_PROVIDER icu ICU_LOCALE ")
                                    .append(PostgresRestoreTarget.literal(r.getString(6)));
                        case "b" ->
                            options.append(" LOCALE_PROVIDER builtin BUILTIN_LOCALE ")
                                    .append(PostgresRestoreTarget.literal(r.getString(6)));
                        default -> {
                            if (version >= 150000) {
                                options.append(" LOCALE_PROVIDER libc");
                            }
                        }
                    }
                    if (!"pg_default".equals(r.getString(7))) {
                        options.append(" TABLESPACE ").append(PostgresRestoreTarget.ident(r.getString(7)));
                    }
                    if (r.getInt(8) != -1) {
                        options.append(" CONNECTION LIMIT ").append(r.getInt(8));
                    }
                    comment = r.getString(9);
                }
            }
            List<String[]> grants = rows(
                    c,
                    "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE"
                            + " quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, a.is_grantable::text"
                            + " FROM pg_catalog.pg_database d, aclexplode(d.datacl) a WHERE d.datname = ?",
                    db);
            List<String[]> settings = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT r.rolname, s.setconfig"
                    + " FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase"
                    + " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE d.datname = ?")) {
                s.setString(1, db);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        Array a = r.getArray(2);
                        for (Object setting : (Object[]) a.getArray()) {
                            settings.add(new String[] {r.getString(1), String.valueOf(setting)});
                        }
                    }
                }
            }
            DatabaseSwap swap =
                    new DatabaseSwap(target, connection, owner, options.toString(), comment, grants, settings);
            swap.refuseOtherSessions(c);
            return swap;
        } catch (SQLException e) {
            throw new RestoreException(
                    "Cannot read the properties of the database " + db + " on "
                            + connection.host() + ":" + connection.port() + " (via " + maintenanceDatabase + "): "
                            + e.getMessage() + ". Nothing was restored; " + db + " is unchanged.",
                    null,
                    target.describe(),
                    e);
        }
    }

    /** The fresh database restored into. */
    String staging() {
        return staging;
    }

    /** The existing database's owner. */
    String owner() {
        return owner;
    }

    /** The {@code CREATE DATABASE} options that copy the existing database's encoding, locale, tablespace, limit. */
    String createOptions() {
        return createOptions;
    }

    /** The statements that copy the existing database's privileges and settings onto {@code database}. */
    List<String> copyStatements(String database) {
        String db = PostgresRestoreTarget.ident(database);
        List<String> out = new ArrayList<>();
        if (!grants.isEmpty()) {
            out.add("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC");
        }
        for (String[] g : grants) {
            out.add("GRANT " + g[0] + " ON DATABASE " + db + " TO " + g[1]
                    + ("true".equals(g[2]) ? " WITH GRANT OPTION" : ""));
        }
        for (String[] setting : settings) {
            int eq = setting[1].indexOf('=');
            String variable = setting[1].substring(0, eq);
            String value = setting[1].substring(eq + 1);
            StringBuilder sql = new StringBuilder(
                    setting[0] == null
                            ? "ALTER DATABASE " + db
                            : "ALTER ROLE " + PostgresRestoreTarget.ident(setting[0]) + " IN DATABASE " + db);
            sql.append(" SET ").append(PostgresRestoreTarget.ident(variable)).append(" TO ");
            if (LIST_SETTINGS.contains(variable.toLowerCase(java.util.Locale.ROOT))) {
                List<String> items = listItems(value);
                sql.append(
                        items.isEmpty()
                                ? "''"
                                : String.join(
                                        ", ",
                                        items.stream()
                                                .map(PostgresRestoreTarget::literal)
                                                .toList()));
            } else {
                sql.append(PostgresRestoreTarget.literal(value));
            }
            out.add(sql.toString());
        }
        return out;
    }

    /**
     * Puts the restored database in place of the existing one: both renamed in one transaction, then the previous
     * one dropped (or kept when it holds relations the restore lacks). Returns facts: {@code previousDatabase}
     * ({@code dropped} or the name it is kept under), {@code relationsOnlyInPrevious} when kept.
     *
     * @throws RestoreException when other sessions are connected or a rename fails; nothing has changed then
     */
    Map<String, Object> swapIn() {
        List<String> onlyInPrevious;
        try {
            onlyInPrevious = relations(name);
            onlyInPrevious.removeAll(relations(staging));
        } catch (SQLException e) {
            throw failure("Cannot compare the relations of " + name + " and " + staging, e);
        }
        boolean keep = !onlyInPrevious.isEmpty();
        try (Connection c = target.maintenance();
                Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            refuseOtherSessions(c);
            s.execute("ALTER DATABASE " + PostgresRestoreTarget.ident(name) + " RENAME TO "
                    + PostgresRestoreTarget.ident(previous));
            s.execute("ALTER DATABASE " + PostgresRestoreTarget.ident(staging) + " RENAME TO "
                    + PostgresRestoreTarget.ident(name));
            s.execute("COMMENT ON DATABASE " + PostgresRestoreTarget.ident(name) + " IS "
                    + (comment == null ? "NULL" : PostgresRestoreTarget.literal(comment)));
            // marked like a half-restored database: if this process dies before the drop, the next restore drops it
            s.execute("COMMENT ON DATABASE " + PostgresRestoreTarget.ident(previous) + " IS "
                    + PostgresRestoreTarget.literal(
                            keep
                                    ? "jiffoo-backup: the content of " + name + " before a"
                                            + " restore replaced it; it holds relations the backup lacks: "
                                            + onlyInPrevious
                                    : RestoreMarker.text()));
            c.commit();
        } catch (SQLException e) {
            if ("55006".equals(e.getSQLState())) {
                throw new RestoreException(
                        "Another session connected to " + name + " while it was restored, so it"
                                + " cannot be swapped (PostgreSQL renames only databases nobody uses): "
                                + e.getMessage()
                                + ". " + name + " is unchanged; the restored copy is dropped. Stop the application and"
                                + " restore again.",
                        null,
                        target.describe(),
                        e);
            }
            throw failure("Cannot swap the restored database " + staging + " in for " + name, e);
        }
        log.info("swapped the restored database in for {} on {}:{}", name, connection.host(), connection.port());
        Map<String, Object> facts = new LinkedHashMap<>();
        if (keep) {
            log.warn(
                    "kept the previous content of {} as database {}: it holds relations the backup lacks: {}; copy"
                            + " what you need, then DROP DATABASE \"{}\"",
                    name,
                    previous,
                    onlyInPrevious,
                    previous);
            facts.put("previousDatabase", previous);
            facts.put("relationsOnlyInPrevious", List.copyOf(onlyInPrevious));
        } else {
            target.dropQuietly(previous);
            facts.put("previousDatabase", "dropped");
        }
        return facts;
    }

    private RestoreException failure(String what, SQLException e) {
        return new RestoreException(
                what + ": " + e.getMessage() + ". " + name + " is unchanged; the restored copy is"
                        + " dropped. The user " + connection.user() + " needs to own " + name + " and hold CREATEDB.",
                null,
                target.describe(),
                e);
    }

    /**
     * Throws when client sessions other than this one are connected to the database (a rename would fail). Sessions
     * of this restore itself that a busy server still lists after they were closed — on the restored copy, whose
     * name nobody else knows, and the ones that compared the relations — are ended first; the others get 5 s to go,
     * as PostgreSQL's rename gives them.
     */
    private void refuseOtherSessions(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT pg_catalog.pg_terminate_backend(pid)"
                + " FROM pg_catalog.pg_stat_activity WHERE (datname = ? OR pid = ANY (?))"
                + " AND pid <> pg_catalog.pg_backend_pid()")) {
            s.setString(1, staging);
            s.setArray(2, c.createArrayOf("int4", ownPids.toArray()));
            s.executeQuery().close();
        }
        String[] who = {"0", ""};
        for (int i = 0; i < 50; i++) {
            who = rows(
                            c,
                            "SELECT count(*)::text, string_agg(DISTINCT coalesce(nullif(application_name, ''),"
                                    + " usename::text, 'unknown') || ' on ' || datname, '; ')"
                                    + " FROM pg_catalog.pg_stat_activity WHERE datname IN (?, ?)"
                                    + " AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()",
                            name,
                            staging)
                    .get(0);
            if ("0".equals(who[0])) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new RestoreException(
                who[0] + " session(s) are connected to " + name + " (" + who[1] + "). A restore"
                        + " over an existing database swaps in a restored copy by name, which PostgreSQL refuses while the"
                        + " database is in use. Stop the application (or end the sessions: SELECT pg_terminate_backend(pid)"
                        + " FROM pg_stat_activity WHERE datname = '" + name.replace("'", "''")
                        + "') and restore again; "
                        + name + " is unchanged.",
                null,
                target.describe(),
                null);
    }

    /** The user relations (tables, partitioned tables, views, materialized views, foreign tables) of a database. */
    private List<String> relations(String database) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = connection.withDatabase(database).openJdbc();
                Statement s = c.createStatement()) {
            try (ResultSet pid = s.executeQuery("SELECT pg_catalog.pg_backend_pid()")) {
                pid.next();
                ownPids.add(pid.getInt(1));
            }
            try (ResultSet r = s.executeQuery("SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c"
                    + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN"
                    + " ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'")) {
                while (r.next()) {
                    out.add(r.getString(1));
                }
            }
        }
        return new ArrayList<>(new TreeSet<>(out));
    }

    /** Splits a flattened list setting ({@code "$user", public}) into its items, unquoted. */
    static List<String> listItems(String value) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = value.length();
        while (i < n) {
            while (i < n && (value.charAt(i) == ' ' || value.charAt(i) == ',')) {
                i++;
            }
            if (i >= n) {
                break;
            }
            StringBuilder item = new StringBuilder();
            if (value.charAt(i) == '"') {
                i++;
                while (i < n) {
                    char ch = value.charAt(i++);
                    if (ch == '"') {
                        if (i < n && value.charAt(i) == '"') {
                            item.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        item.append(ch);
                    }
                }
            } else {
                while (i < n && value.charAt(i) != ',') {
                    item.append(value.charAt(i++));
                }
            }
            out.add(item.toString().strip());
        }
        return out;
    }

    /** {@code name} cut to leave {@code room} bytes of PostgreSQL's 63, at a character boundary. */
    private static String shortened(String name, int room) {
        int max = 63 - room;
        StringBuilder out = new StringBuilder();
        int bytes = 0;
        for (int cp : name.codePoints().toArray()) {
            int len = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + len > max) {
                break;
            }
            out.appendCodePoint(cp);
            bytes += len;
        }
        return out.toString();
    }

    private static List<String[]> rows(Connection c, String sql, String... parameters) throws SQLException {
        List<String[]> out = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                s.setString(i + 1, parameters[i]);
            }
            try (ResultSet r = s.executeQuery()) {
                int columns = r.getMetaData().getColumnCount();
                while (r.next()) {
                    String[] row = new String[columns];
                    for (int i = 0; i < columns; i++) {
                        row[i] = r.getString(i + 1);
                    }
                    out.add(row);
                }
            }
        }
        return out;
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getString(1);
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[4];
        RANDOM.nextBytes(b);
        return b;
    }
}
