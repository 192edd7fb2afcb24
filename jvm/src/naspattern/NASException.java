package naspattern;

/** What the Python engine or the bridge refused, in one line (a bad config, a wrong token ...). */
public class NASException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NASException(String message) {
        super(message);
    }

    public NASException(String message, Throwable cause) {
        super(message, cause);
    }
}
