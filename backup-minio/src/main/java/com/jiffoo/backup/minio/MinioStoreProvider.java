package com.jiffoo.backup.minio;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.StoreProvider;
import com.jiffoo.backup.store.StoreSettings;
import java.net.URI;
import java.util.Map;
import java.util.Set;

/**
 * Opens {@code minio://host:port/bucket/prefix} stores (as {@link MinioSink#location()} prints them) as a
 * {@link MinioSink}.
 *
 * <p>Settings (URI query parameter in brackets, which wins): {@code MINIO_ENDPOINT} ({@code endpoint}), the server's
 * {@code http(s)://} URL, required (it says http or https) and on the URI's host and port; {@code AWS_REGION}
 * ({@code region}); the access key in {@code AWS_ACCESS_KEY_ID} and the secret key in {@code AWS_SECRET_ACCESS_KEY},
 * required. E.g. {@code minio://minio.internal:9000/jiffoo-backups/prod?endpoint=https://minio.internal:9000}.
 */
public final class MinioStoreProvider implements StoreProvider {
    /** {@code endpoint} for {@code MINIO_ENDPOINT}, {@code region} for {@code AWS_REGION}. */
    @Override
    public Map<String, String> queryParameters() {
        return Map.of("endpoint", "MINIO_ENDPOINT", "region", "AWS_REGION");
    }

    @Override
    public Set<String> schemes() {
        return Set.of("minio");
    }

    @Override
    public Sink open(URI uri, StoreSettings s) {
        URI endpoint = s.httpUrl("MINIO_ENDPOINT")
                .orElseThrow(() -> new ConfigurationException("the store "
                        + where(uri) + " is a MinIO store: set MINIO_ENDPOINT to its server's URL (http://"
                        + uri.getRawAuthority() + " or https://…), and its keys in AWS_ACCESS_KEY_ID and"
                        + " AWS_SECRET_ACCESS_KEY."));
        if (!endpoint.getHost().equalsIgnoreCase(String.valueOf(uri.getHost()))
                || uri.getPort() >= 0 && port(endpoint) != uri.getPort()) {
            throw new ConfigurationException("the store " + where(uri) + " is not on the MinIO server at"
                    + " MINIO_ENDPOINT ("
                    + endpoint + "); set MINIO_ENDPOINT to that server.");
        }
        String path = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
        int slash = path.indexOf('/');
        if (path.isEmpty()) {
            throw new ConfigurationException(
                    "the store " + where(uri) + " names no bucket: use" + " minio://host:port/bucket/prefix.");
        }
        String id = s.require(
                "AWS_ACCESS_KEY_ID",
                "a MinIO store needs the access key in AWS_ACCESS_KEY_ID and its" + " secret in AWS_SECRET_ACCESS_KEY");
        String secret =
                s.require("AWS_SECRET_ACCESS_KEY", "a MinIO store needs the secret key in" + " AWS_SECRET_ACCESS_KEY");
        MinioSink.Builder b = MinioSink.builder()
                .endpoint(endpoint.toString())
                .bucket(slash < 0 ? path : path.substring(0, slash))
                .credentials(id, secret.toCharArray())
                .prefix(slash < 0 ? "" : path.substring(slash + 1));
        s.get("AWS_REGION").ifPresent(b::region);
        return b.build();
    }

    private static int port(URI url) {
        return url.getPort() >= 0 ? url.getPort() : "https".equals(url.getScheme()) ? 443 : 80;
    }

    private static String where(URI uri) {
        return "minio://" + uri.getRawAuthority() + (uri.getRawPath() == null ? "" : uri.getRawPath());
    }
}
