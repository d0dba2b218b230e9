package com.jiffoo.backup.store.multipart;

import java.io.IOException;

/**
 * An S3 error answer, as an {@link ObjectStore} reports it: the HTTP status ({@code 0} for an answer that could not
 * be read), the S3 error code ({@code NoSuchKey}, {@code PreconditionFailed}, ...; null when the answer had none),
 * the request id when known. The message must never hold a secret.
 */
public final class StoreFailure extends IOException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String code;
    private final String requestId;

    /** A failure answered with {@code status} and {@code code}; {@code cause} is the vendor's exception. */
    public StoreFailure(int status, String code, String message, String requestId, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
        this.requestId = requestId;
    }

    /** The HTTP status, or 0 when the answer could not be read. */
    public int status() {
        return status;
    }

    /** The S3 error code, or null. */
    public String code() {
        return code;
    }

    /** True for this error code. */
    public boolean is(String errorCode) {
        return errorCode.equals(code);
    }

    /** {@code "HTTP 503, SlowDown, request id X"}: what names the answer in messages. */
    public String describe() {
        return "HTTP " + status + (code == null ? "" : ", " + code)
                + (requestId == null ? "" : ", request id " + requestId);
    }
}
