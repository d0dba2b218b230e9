package com.jiffoo.backup.s3;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.StorageException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;

/** Turns SDK failures into the library's exceptions with messages that say what to do. Never includes secrets. */
final class S3Errors {
    static final String NO_CREDENTIALS_HELP = "Unable to locate credentials for %s. Set AWS_ACCESS_KEY_ID and "
            + "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials, or run with an IAM role "
            + "(EC2 instance profile, ECS task role, EKS IRSA / pod identity).";

    private S3Errors() {
    }

    /** The exception for {@code e}, raised while doing {@code what} (e.g. "upload of") on {@code key}. */
    static BackupException map(SdkException e, String what, String key, String location, String bucket,
            String endpoint) {
        String subject = what + (key == null ? "" : " '" + key + "'") + " in " + location;
        if (e instanceof S3Exception s3) {
            String code = s3.awsErrorDetails() == null ? null : s3.awsErrorDetails().errorCode();
            int status = s3.statusCode();
            String detail = " (HTTP " + status + (code == null ? "" : ", " + code)
                    + (s3.requestId() == null ? "" : ", request id " + s3.requestId()) + ")";
            if ("NoSuchBucket".equals(code)) {
                return new ConfigurationException("The bucket '" + bucket + "' does not exist" + detail + " ("
                        + subject + "). Create it, or fix the store URI and region.", key, location, e);
            }
            if ("NoSuchKey".equals(code) || (status == 404 && code == null)) {
                return new NotFoundException("No object '" + key + "' in " + location
                        + ". List the store to see which backups exist.", key, location, e);
            }
            if ("InvalidAccessKeyId".equals(code)) {
                return new ConfigurationException("The access key id is not known to " + endpoint + detail
                        + " (" + subject + "). Check AWS_ACCESS_KEY_ID or the profile's credentials.",
                        key, location, e);
            }
            if ("SignatureDoesNotMatch".equals(code)) {
                return new ConfigurationException("The request signature was rejected" + detail + " (" + subject
                        + "): the secret access key does not match the access key id. Check AWS_SECRET_ACCESS_KEY "
                        + "or the profile's credentials.", key, location, e);
            }
            if ("RequestTimeTooSkewed".equals(code)) {
                return new StorageException("The S3 endpoint " + endpoint + " refused the request because this "
                        + "host's clock differs from the server's by more than 15 minutes" + detail + " (" + subject
                        + "). " + com.jiffoo.backup.internal.Support.HOST_CLOCK_ADVICE, key, location, e);
            }
            if (status == 403) {
                return new ConfigurationException("Access denied" + detail + " (" + subject + "). Check that the "
                        + "credentials' policy allows s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject "
                        + "and s3:AbortMultipartUpload on the bucket, and kms:GenerateDataKey/kms:Decrypt for "
                        + "SSE-KMS.", key, location, e);
            }
            return new StorageException("S3 " + subject + " failed" + detail + ": " + messageOf(s3)
                    + ". Retry once the store is healthy.", key, location, e);
        }
        String message = String.valueOf(e.getMessage());
        if (message.contains("Unable to load credentials") || message.contains("Unable to locate credentials")) {
            return new ConfigurationException(String.format(NO_CREDENTIALS_HELP, location), key, location, e);
        }
        if (message.contains("Unable to load region")) {
            return new ConfigurationException("No AWS region for " + location + ". Set AWS_REGION, a region in "
                    + "the profile, or the sink's region.", key, location, e);
        }
        if (e instanceof SdkClientException && unreachable(e)) {
            return new StorageException("Cannot reach the S3 endpoint " + endpoint + " (" + subject + "): "
                    + rootMessage(e) + ". Check the endpoint, DNS, network and proxy settings.", key, location, e);
        }
        return new StorageException("S3 " + subject + " failed: " + message, key, location, e);
    }

    private static String messageOf(S3Exception e) {
        return e.awsErrorDetails() != null && e.awsErrorDetails().errorMessage() != null
                ? e.awsErrorDetails().errorMessage() : String.valueOf(e.getMessage());
    }

    private static boolean unreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof UnknownHostException
                    || t instanceof NoRouteToHostException) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.toString();
    }
}
