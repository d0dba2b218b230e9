package com.jiffoo.backup.store;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens stores by URI, with the {@link StoreProvider}s on the class path: the entry point for code that names a store
 * in configuration rather than building a sink.
 *
 * <pre>{@code
 * try (Sink store = StoreProviders.open("s3://jiffoo-backups/prod?region=eu-central-1", StoreSettings.NONE)) {
 *     BackupPipeline.builder().source(source).encryption(pgp).sink(store).build().run();
 * }
 * StoreProviders.Located backup = StoreProviders.locate(
 *         "s3://jiffoo-backups/prod/database/db_backup_20260111_020000.sql.gpg", settings);
 * }</pre>
 *
 * <p>A store is named by a URI ({@code s3://bucket/prefix}, {@code minio://host:port/bucket/prefix},
 * {@code file:/var/backups/jiffoo}) or a plain local path. One backup is named by its store's URI followed by its
 * key ({@link #backupUri}). URIs with user info ({@code s3://KEY:SECRET@bucket}) are refused: credentials go in
 * settings, never where they would be printed. Thread-safe; providers are looked up on each call.
 */
public final class StoreProviders {
    /** A URI scheme at the start of a location: two characters at least, so that {@code C:\x} stays a path. */
    private static final Pattern SCHEME = Pattern.compile("^([a-zA-Z][a-zA-Z0-9+.-]+):");

    /** One backup: the store it lives in (the caller closes it) and its key there. */
    public record Located(Sink store, String key) {
        /** Checks the parts. */
        public Located {
            Objects.requireNonNull(store, "store");
            Objects.requireNonNull(key, "key");
        }
    }

    private StoreProviders() {}

    /**
     * Opens the store at {@code location}: a URI whose scheme a provider opens, or a local directory's path.
     *
     * @throws ConfigurationException when no provider opens the scheme (naming the known ones), the URI holds
     *                                credentials, or the provider finds the URI or a setting wrong
     */
    public static Sink open(String location, StoreSettings settings) {
        return open(toUri(location), settings);
    }

    /** Opens the store {@code uri} names; see {@link #open(String, StoreSettings)}. */
    public static Sink open(URI uri, StoreSettings settings) {
        Objects.requireNonNull(settings, "settings");
        if (uri.getRawUserInfo() != null || holdsCredentials(uri.toString())) {
            throw credentials(uri.getScheme());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        StoreProvider provider = find(scheme)
                .orElseThrow(() -> new ConfigurationException("No store provider opens '"
                        + scheme + ":' URIs; the known schemes are " + String.join(", ", schemes())
                        + " (and plain local"
                        + " paths). Put the module that provides '" + scheme
                        + ":' on the class path, or check the store URI."));
        return provider.open(uri, settings.withQuery(uri, provider.queryParameters()));
    }

    /**
     * Opens the bucket {@code location} names ({@code s3://bucket/prefix}, {@code minio://host:port/bucket/prefix}) as
     * the source or target of a files backup; settings and query parameters as for {@link #open(String,
     * StoreSettings)}.
     *
     * @throws ConfigurationException as {@link #open(String, StoreSettings)}, or when the scheme is no object store
     */
    public static ObjectBucket openBucket(String location, StoreSettings settings) {
        Objects.requireNonNull(settings, "settings");
        URI uri = toUri(location);
        if (uri.getRawUserInfo() != null || holdsCredentials(uri.toString())) {
            throw credentials(uri.getScheme());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        StoreProvider provider = find(scheme)
                .orElseThrow(() -> new ConfigurationException("No store provider opens '" + scheme
                        + ":' URIs; the known schemes are " + String.join(", ", schemes()) + "."));
        return provider.openBucket(uri, settings.withQuery(uri, provider.queryParameters()));
    }

    /**
     * Opens the store of the backup {@code backupUri} names, {@code <store URI>/<kind>/<file>} as
     * {@link #backupUri} prints it, and returns it with the backup's key ({@link StoreLayout#backupKeyAtEndOf}).
     * Query parameters stay with the store ({@code s3://b/p/database/x.sql.gpg?region=eu-west-1}).
     *
     * @throws ConfigurationException as {@link #open(String, StoreSettings)}, or when the URI does not end with a
     *                                backup's key
     */
    public static Located locate(String backupUri, StoreSettings settings) {
        int q = backupUri.indexOf('?');
        String path = q < 0 ? backupUri : backupUri.substring(0, q);
        String query = q < 0 ? "" : backupUri.substring(q);
        String key = StoreLayout.backupKeyAtEndOf(path);
        String store = path.substring(0, path.length() - key.length()).replaceAll("/+$", "");
        return new Located(open(store + query, settings), key);
    }

    /** The URI of one backup: its store's {@link Sink#location()} and its key, which {@link #locate} opens again. */
    public static String backupUri(Sink store, String key) {
        return store.location() + "/" + key;
    }

    /** The provider that opens {@code scheme}, if one is on the class path. */
    public static Optional<StoreProvider> find(String scheme) {
        String s = scheme.toLowerCase(Locale.ROOT);
        for (StoreProvider p : ServiceLoader.load(StoreProvider.class)) {
            if (p.schemes().contains(s)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Every scheme the providers on the class path open, sorted. */
    public static TreeSet<String> schemes() {
        TreeSet<String> out = new TreeSet<>();
        ServiceLoader.load(StoreProvider.class).forEach(p -> out.addAll(p.schemes()));
        return out;
    }

    /** True when {@code location} starts with a URI scheme ({@code s3:}, {@code file:}) rather than being a path. */
    public static boolean hasScheme(String location) {
        return SCHEME.matcher(location).find();
    }

    private static ConfigurationException credentials(String scheme) {
        return new ConfigurationException("A store URI must not hold credentials (" + scheme + "://***@…): they would"
                + " show in listings and logs. Give them as settings instead (for S3 and MinIO: AWS_ACCESS_KEY_ID and"
                + " AWS_SECRET_ACCESS_KEY).");
    }

    /**
     * {@code location} with any user info replaced: {@code s3://***@bucket/prefix}, for messages. Everything up to
     * the last {@code @} before any query or fragment goes, so a password holding {@code @} or {@code /} shows no part.
     */
    public static String redact(String location) {
        return location.replaceAll("//[^?#]*@", "//***@");
    }

    /**
     * Whether {@code location} (not a {@code file:} URI) holds user info: an {@code @} after {@code scheme://} and before
     * any query (so also one in the path: refused rather than risked). Read from the
     * raw text, because a secret with a {@code /} in it (AWS secrets often have one) ends the URI's authority early,
     * so that {@link URI#getRawUserInfo()} does not see it.
     */
    private static boolean holdsCredentials(String location) {
        return !location.regionMatches(true, 0, "file:", 0, 5)
                && location.matches("(?s)[A-Za-z][A-Za-z0-9+.-]*://[^?#]*@.*");
    }

    /** A location as a URI: a path becomes a {@code file:} URI; so does a {@code file:} location that no URI parses. */
    private static URI toUri(String location) {
        Matcher m = SCHEME.matcher(location);
        if (!m.find()) {
            return Path.of(location).toAbsolutePath().toUri();
        }
        if (holdsCredentials(location)) {
            throw credentials(m.group(1));
        }
        try {
            return new URI(location);
        } catch (java.net.URISyntaxException e) {
            if (m.group(1).equalsIgnoreCase("file")) {
                return Path.of(location.substring(m.end())).toAbsolutePath().toUri();
            }
            // the reason and index only: the exception's message repeats the whole location
            throw new ConfigurationException("The store location '" + redact(location) + "' is not a valid URI: "
                    + e.getReason() + " at index " + e.getIndex() + ".");
        }
    }
}
