package naspattern;

/**
 * What the bridge benchmark ({@code make bridge-bench}) times, kept apart from the {@link Engine}
 * user code sees: implemented by the same Python object, reached through
 * {@link NASGateway#diagnostics()}.
 */
public interface Diagnostics {
    /** Returns {@code text}: the trivial call whose round trip the bridge benchmark times. */
    String echo(String text);

    /** Calls {@code listener.shouldStop()} {@code calls} times; the median round trip in seconds. */
    double medianCallbackSeconds(SearchListener listener, int calls);
}
