package naspattern;

/**
 * What {@link RLAgent#policy()} gives out and {@link RLAgent#reward(Sample, Metrics)} takes back:
 * the architecture, with the agent's number for it (unique among the samples that agent gave out).
 * The handle of ask and tell: a reward names the sample it rewards, so samples may be rewarded in
 * any order, each once.
 *
 * @param number the agent's serial number of this sample, from 1
 * @param architecture the architecture to evaluate
 */
public record Sample(long number, Architecture architecture) {
    @Override
    public String toString() {
        return "sample " + number + ": " + architecture;
    }
}
