package naspattern;

/**
 * The pattern's NASController, as the JVM sees it: implemented in Python by
 * {@code nas_pattern.adapters.Controller}, which adapts {@code nas_pattern.NASController}.
 * Every architecture comes from the Python RLAgent, every accuracy from a PyTorch child.
 * It holds its run directory until it is closed, or until its {@link NASGateway} is.
 */
public interface NASController extends AutoCloseable {
    /** Asks the agent for the next child architecture (the agent's {@code policy()}). */
    Architecture generateArchitecture();

    /** Builds the child for {@code architecture} and trains it on the training split. */
    Network trainNetwork(Architecture architecture);

    /** Metrics of the child trained last, on the validation split (never the test split). */
    Metrics evaluateNetwork();

    /** The agent that samples architectures and learns from their rewards. */
    RLAgent getAgent();

    /** The child trained most recently, or null before the first. */
    Network getNetwork();

    /**
     * Runs {@code episodes} more child evaluations, calling {@code listener} after each one on
     * this thread, then tests the best architecture (with weight sharing, derived first; with
     * {@code final-epochs}, retrained first: the listener hears each step of those too). The search
     * is recorded in the run directory.
     */
    SearchResult search(int episodes, SearchListener listener);

    /** Where this controller records its search (the config's {@code run-dir}). */
    String runDir();

    /**
     * Releases the run directory, so that another controller (of this gateway or another) or the
     * CLI may resume its search, and the engine's worker processes for it. After it, the calls
     * that train or record are refused; closing again does nothing, and so does closing after the
     * gateway is closed or the engine exited (it released all it held). Refused while this
     * controller's {@code search} is under way.
     */
    @Override
    void close();
}
