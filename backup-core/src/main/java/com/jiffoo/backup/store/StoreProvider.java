package com.jiffoo.backup.store;

import com.jiffoo.backup.Sink;
import java.net.URI;
import java.util.Map;
import java.util.Set;

/**
 * Opens the stores named by URIs of one or more schemes: {@code file:} (backup-core), {@code s3:} (backup-s3),
 * {@code minio:} (backup-minio). A module offers one by naming its class in
 * {@code META-INF/services/com.jiffoo.backup.store.StoreProvider}; {@link StoreProviders} finds it with
 * {@link java.util.ServiceLoader}, so a new store needs no change to the command line or to the code that names
 * stores by URI. Stores can always be built directly too ({@link LocalDirectorySink#create}, the sinks' builders).
 *
 * <p>A store's URI names where it is ({@code s3://bucket/prefix}); how to reach it (endpoint, region, credentials)
 * comes from {@link StoreSettings}, or for what is not secret from the URI's {@link #queryParameters()}. Secrets never appear
 * in a URI: {@link StoreProviders} refuses one with credentials before any provider sees it.
 *
 * <p>The {@link Sink#location()} of a store a provider opens is a URI that provider opens again (with the same
 * settings), so that {@code <location>/<key>} names one backup ({@link StoreProviders#backupUri}).
 *
 * <p>Implementations are stateless and thread-safe, have a public no-argument constructor, and do no work (no client,
 * no network) until {@link #open} is called.
 */
public interface StoreProvider {

    /** The URI schemes this provider opens, lower case, e.g. {@code s3}. */
    Set<String> schemes();

    /**
     * The query parameters this provider's URIs may carry, each mapped to the setting it stands for (e.g.
     * {@code region -> AWS_REGION}); a parameter wins over the setting. Only settings that are not secret: a URI is
     * printed and logged. {@link StoreProviders} refuses any other parameter. Default: none.
     */
    default Map<String, String> queryParameters() {
        return Map.of();
    }

    /**
     * Opens the store {@code uri} names. The caller closes it.
     *
     * @param uri      a URI of one of {@link #schemes()}, without user info
     * @param settings what the URI does not say: endpoint, region, credentials, by the names the provider documents;
     *                 the URI's {@link #queryParameters()} already applied
     * @throws com.jiffoo.backup.ConfigurationException when the URI or a setting is wrong or missing, naming which
     */
    Sink open(URI uri, StoreSettings settings);

    /**
     * Opens the bucket {@code uri} names (with its prefix in the URI's path) as a source or target of files
     * backups ({@code backup files --from}, {@code restore files --to}), with the same settings as {@link #open}.
     * Default: refused, for schemes that are no object stores.
     *
     * @throws com.jiffoo.backup.ConfigurationException when this provider cannot open buckets, or a setting is wrong
     */
    default ObjectBucket openBucket(URI uri, StoreSettings settings) {
        throw new com.jiffoo.backup.ConfigurationException("'" + uri.getScheme()
                + ":' cannot be the source or target of a files backup; name a bucket as s3://bucket/prefix or"
                + " minio://host:port/bucket/prefix.");
    }
}
