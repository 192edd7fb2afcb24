package naspattern;

/**
 * What a search found.
 *
 * @param best the episode of the best architecture (by the search's objective on validation)
 * @param test the best architecture's metrics on the test split, used for nothing else
 * @param episodes children the controller has evaluated so far (by hand and by search())
 * @param stopReason "budget", "converged", "failures", or "stopped" (the listener asked)
 * @param seconds wall time of this call's search, not of the children recorded before it (a controller
 *     opened with {"resume": DIR} counts its own time only)
 * @param runDir the absolute path of the run directory that records it
 * @param modelPath the absolute path of the best model's best.pt, for {@link NASGateway#loadModel}; null
 *     when the network has no PyTorch weights to save
 */
public record SearchResult(Episode best, Metrics test, int episodes, String stopReason, double seconds,
                           String runDir, String modelPath) {
    @Override
    public String toString() {
        return String.format("best %s: val %.4f, test %.4f (%d children, %s; recorded in %s)", best.architecture(),
                best.accuracy(), test.accuracy(), episodes, stopReason, runDir);
    }
}
