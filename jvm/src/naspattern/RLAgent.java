package naspattern;

/**
 * The pattern's RLAgent: implemented in Python by {@code nas_pattern.adapters.Agent}, which adapts
 * the search's agent, whichever strategy of the registry it is: {@code nas_pattern.RLAgent} (an
 * LSTM policy trained with REINFORCE, with a moving-average baseline or a critic), random search,
 * regularized evolution or TPE. Ask and tell: {@link #policy()} gives a {@link Sample},
 * {@link #reward(Sample, Metrics)} names the one it rewards.
 */
public interface RLAgent {
    /** Samples an architecture from the current policy (never the argmax): a new handle. */
    Sample policy();

    /**
     * Turns a child's metrics into the reward of {@code sample}; NASException if that sample was
     * rewarded already, was given out before the latest policy update, or is not this agent's.
     */
    double reward(Sample sample, Metrics metrics);

    /** The baseline the next reward is measured against; NaN before the agent has an estimate. */
    double valueFunction();

    /** One policy step over the rewarded samples (REINFORCE's, for the RL agents); its statistics as JSON. */
    String updatePolicy();
}
