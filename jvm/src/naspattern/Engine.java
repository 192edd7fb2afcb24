package naspattern;

/**
 * The entry point of the Python engine, implemented by {@code nas_pattern.gateway.Engine}.
 * {@link NASGateway} calls it; user code asks the gateway for controllers instead.
 */
public interface Engine {
    /** Tells the engine where the JVM's side of the bridge listens; the first call after launch. */
    void attach(int javaPort);

    /** A controller configured from a JSON object whose keys are the CLI flags without "--". */
    NASController newController(String configJson);

    /** The model saved at {@code path} (a run directory or a best.pt), loaded to classify images. */
    ModelEngine loadModel(String path);

    /** The engine's version: nas-pattern, torch and the device it trains on. */
    String version();

    /** Ends the engine process once this call has returned. */
    void shutdown();
}
