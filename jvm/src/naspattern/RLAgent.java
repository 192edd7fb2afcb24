package naspattern;

/**
 * The pattern's RLAgent: implemented in Python by {@code nas_pattern.gateway.Agent}, which adapts
 * {@code nas_pattern.RLAgent} (an LSTM controller trained with REINFORCE) or the RandomAgent.
 */
public interface RLAgent {
    /** Samples an architecture from the current policy (never the argmax). */
    Architecture policy();

    /** Turns a child's metrics into the reward for the oldest sample still waiting for one. */
    double reward(Metrics metrics);

    /** The baseline the next reward is measured against; NaN before the agent has an estimate. */
    double valueFunction();

    /** One REINFORCE step over the rewarded samples; its statistics as a JSON object. */
    String updatePolicy();
}
