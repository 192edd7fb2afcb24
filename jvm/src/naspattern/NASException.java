package naspattern;

/**
 * What the Python engine or the bridge refused, in one line (a bad config, a wrong token ...), or
 * why the engine could not answer; {@link #reason()} says which, so no caller matches the text.
 */
public class NASException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why a call failed. */
    public enum Reason {
        /** The engine (or this client) refused the input: a bad config, a null, a call out of order. */
        REFUSED,
        /** The engine process exited; the message gives its status and last words. */
        ENGINE_EXITED,
        /** The engine is alive but the call failed in the bridge, or an engine started elsewhere is gone. */
        ENGINE_FAILED,
        /** The NASGateway was closed. */
        CLOSED
    }

    private final Reason reason;

    /** The engine or this client refused the input, as {@code message} says ({@link Reason#REFUSED}). */
    public NASException(String message) {
        this(message, Reason.REFUSED, null);
    }

    /** The input was refused ({@link Reason#REFUSED}), as {@code cause} says in more detail. */
    public NASException(String message, Throwable cause) {
        this(message, Reason.REFUSED, cause);
    }

    /** A call failed for {@code reason}, in one line; {@code cause} may be null. */
    public NASException(String message, Reason reason, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** Why the call failed. */
    public Reason reason() {
        return reason;
    }
}
