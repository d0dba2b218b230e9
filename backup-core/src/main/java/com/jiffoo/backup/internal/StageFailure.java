package com.jiffoo.backup.internal;

import com.jiffoo.backup.ErrorCode;
import java.io.IOException;

/**
 * An I/O failure tagged with the pipeline step where it started, so the runner can name that step. The innermost
 * step tags first; outer steps pass a {@code StageFailure} through unchanged.
 */
public final class StageFailure extends IOException {
    private static final long serialVersionUID = 1L;
    private final String stage;
    private final transient ErrorCode code;

    StageFailure(String stage, ErrorCode code, Throwable cause) {
        super(stage + ": " + Support.message(cause), cause);
        this.stage = stage;
        this.code = code;
    }

    /** The step's name, e.g. {@code store (file:/var/backups)} or {@code encode (openpgp)}. */
    public String stage() {
        return stage;
    }

    /** The error category of failures at this step. */
    public ErrorCode code() {
        return code;
    }

    static IOException tag(String stage, ErrorCode code, IOException e) {
        return e instanceof StageFailure ? e : new StageFailure(stage, code, e);
    }
}
