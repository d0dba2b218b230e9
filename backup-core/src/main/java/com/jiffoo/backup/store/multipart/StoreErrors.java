package com.jiffoo.backup.store.multipart;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.internal.Support;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;

/**
 * The one mapping of S3 answers to the library's exceptions, with messages that say what failed, where and what to
 * do. Never includes secrets. Not public API.
 */
final class StoreErrors {
    private final String service;
    private final String endpoint;
    private final String location;
    private final String bucket;

    /** For a store of {@code service} ("S3", "MinIO") at {@code endpoint}, shown as {@code location}. */
    StoreErrors(String service, String endpoint, String location, String bucket) {
        this.service = service;
        this.endpoint = endpoint;
        this.location = location;
        this.bucket = bucket;
    }

    /** The exception for {@code failure}, raised by {@code what} (e.g. "upload of") on {@code key} (or null). */
    BackupException map(Throwable failure, String what, String key) {
        if (failure instanceof BackupException be) {
            return be;
        }
        String subject = what + (key == null ? "" : " '" + key + "'") + " in " + location;
        if (failure instanceof StoreFailure f) {
            String detail = " (" + f.describe() + ")";
            String code = f.code() == null ? "" : f.code();
            String rejected = "The " + service + " endpoint " + endpoint + " rejected the credentials" + detail + " ("
                    + subject + "): ";
            switch (code) {
                case "NoSuchBucket":
                    return new ConfigurationException(
                            "The bucket '" + bucket + "' does not exist at " + endpoint
                                    + detail + " (" + subject + "). Create it (e.g. `mc mb ALIAS/" + bucket
                                    + "`), or fix the "
                                    + "bucket name and the region.",
                            key,
                            location,
                            f);
                case "NoSuchKey", "NoSuchObject":
                    return notFound(key, f);
                case "InvalidAccessKeyId":
                    return new ConfigurationException(
                            rejected + "the access key id is not known. Check the access "
                                    + "key (AWS_ACCESS_KEY_ID or the profile's credentials).",
                            key,
                            location,
                            f);
                case "SignatureDoesNotMatch":
                    return new ConfigurationException(
                            rejected + "the secret access key does not match the access key"
                                    + " id. Check the secret key (AWS_SECRET_ACCESS_KEY or the profile's credentials).",
                            key,
                            location,
                            f);
                case "InvalidToken", "ExpiredToken":
                    return new ConfigurationException(
                            rejected + "the session token is invalid or expired. Renew the " + "credentials.",
                            key,
                            location,
                            f);
                case "RequestTimeTooSkewed":
                    return new StorageException(
                            "The " + service + " endpoint " + endpoint + " refused the request "
                                    + "because this host's clock differs from the server's by more than 15 minutes"
                                    + detail
                                    + " (" + subject + "). " + Support.HOST_CLOCK_ADVICE,
                            key,
                            location,
                            f);
                case "NotImplemented":
                    return notImplemented(subject, detail, key, f);
                default:
                    break;
            }
            if (f.status() == 404 && f.code() == null) {
                return notFound(key, f);
            }
            if (f.status() == 501) {
                return notImplemented(subject, detail, key, f);
            }
            if (f.status() == 403) {
                return new ConfigurationException(
                        "Access denied" + detail + " (" + subject + "). Check the "
                                + "credentials, and that their policy allows s3:PutObject, s3:GetObject, s3:ListBucket, "
                                + "s3:DeleteObject and s3:AbortMultipartUpload on bucket '" + bucket + "' (and "
                                + "kms:GenerateDataKey/kms:Decrypt for SSE-KMS).",
                        key,
                        location,
                        f);
            }
            return new StorageException(
                    service + " " + subject + " failed" + detail + ": " + f.getMessage()
                            + ". Retry once the store is healthy.",
                    key,
                    location,
                    f);
        }
        if (unreachable(failure)) {
            return new StorageException(
                    "Cannot reach the " + service + " endpoint " + endpoint + " (" + subject
                            + "): " + root(failure)
                            + ". Check the endpoint, DNS, network and proxy settings, and that the "
                            + "server runs.",
                    key,
                    location,
                    failure);
        }
        return new StorageException(
                service + " " + subject + " failed: " + failure + ". Check the store and the "
                        + "network, and run again.",
                key,
                location,
                failure);
    }

    /** The bucket does not exist (e.g. a bucket check answered "no"). */
    ConfigurationException missingBucket() {
        return (ConfigurationException)
                map(new StoreFailure(404, "NoSuchBucket", "no such bucket", null, null), "check of the bucket", null);
    }

    private NotFoundException notFound(String key, IOException cause) {
        return new NotFoundException(
                "No object '" + key + "' in " + location + ". List the store to see which backups exist.",
                key,
                location,
                cause);
    }

    private StorageException notImplemented(String subject, String detail, String key, IOException cause) {
        return new StorageException(
                "The " + service + " endpoint " + endpoint + " does not implement a request "
                        + "needed for " + subject + detail
                        + ". If it rejects conditional writes (If-None-Match), build the "
                        + "sink with conditionalWrites(false).",
                key,
                location,
                cause);
    }

    private static boolean unreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException
                    || t instanceof UnknownHostException
                    || t instanceof NoRouteToHostException
                    || t instanceof SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    private static String root(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.toString();
    }
}
