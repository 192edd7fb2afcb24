package naspattern;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a search found.
 *
 * @param best the episode of the best architecture (by the search's objective on validation)
 * @param test the best architecture's metrics on the test split, used for nothing else
 * @param episodes children the controller has evaluated so far (by hand and by search())
 * @param stopReason "budget", "converged", "failures", "time" (the config's "time-limit"), or "stopped"
 *     (the listener asked)
 * @param seconds wall time of this call's search, not of the children recorded before it (a controller
 *     opened with {"resume": DIR} counts its own time only)
 * @param deriveSeconds with "weight-sharing", the wall time of the derivation that {@code seconds} leaves out:
 *     the candidates scored again with the final shared weights and trained from scratch; 0 without it
 * @param recordedBefore children already recorded when this call's search began: by hand, by an earlier
 *     search() or, with {"resume": DIR}, by the sessions before
 * @param derived with "weight-sharing", the candidates trained from scratch after the search (evaluation
 *     "standalone"), in the order they were trained: by their {@code rescored} metrics, best first;
 *     {@code best} is the best of them on validation. Empty without weight sharing
 * @param rescored with "weight-sharing", the candidates' validation metrics with the final shared weights
 *     (the score that chose {@code derived}), by episode, best first; empty without weight sharing
 * @param runDir the absolute path of the run directory that records it
 * @param modelPath the absolute path of the best model's best.pt, for {@link NASGateway#loadModel}; null
 *     when the network has no PyTorch weights to save
 */
public record SearchResult(Episode best, Metrics test, int episodes, String stopReason, double seconds,
                           double deriveSeconds, int recordedBefore, List<Episode> derived,
                           Map<Integer, Metrics> rescored, String runDir, String modelPath) {
    /** The lists and the map are copied, so they cannot change; {@code rescored} keeps its order. */
    public SearchResult {
        derived = List.copyOf(derived);
        rescored = Collections.unmodifiableMap(new LinkedHashMap<>(rescored)); // in its order: best first
    }

    @Override
    public String toString() {
        return String.format("best %s: val %.4f, test %.4f (%d children, %s; recorded in %s)", best.architecture(),
                best.accuracy(), test.accuracy(), episodes, stopReason, runDir);
    }
}
