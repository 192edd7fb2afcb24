import naspattern.Architecture;
import naspattern.Episode;
import naspattern.Metrics;
import naspattern.NASController;
import naspattern.NASException;
import naspattern.NASGateway;
import naspattern.Network;
import naspattern.RLAgent;
import naspattern.SearchListener;
import naspattern.SearchResult;

/**
 * The pattern's sample, made real: every architecture below is sampled by the Python RLAgent and
 * every accuracy comes from a child network trained by PyTorch, through the py4j bridge.
 *
 * <p>Usage: {@code java -cp <classes>:<py4j jar> NASExample [episodes] [run-dir]} with
 * NAS_PATTERN_PYTHON naming a python that has nas_pattern installed.
 */
public final class NASExample {
    public static void main(String[] args) {
        int episodes = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        String runDir = args.length > 1 ? args[1] : "runs/java-example-" + System.currentTimeMillis();
        // --8<-- [start:java]
        String config = "{\"dataset\": \"fashion-mnist\", \"network\": \"cnn\", \"children-per-update\": 2,"
                + " \"epochs\": 1, \"train-limit\": 2000, \"seed\": 0, \"run-dir\": \"" + runDir + "\"}";

        try (NASGateway gateway = NASGateway.launch()) {
            System.out.println("Engine: " + gateway.engine().version());
            NASController controller = gateway.controller(config);
            RLAgent agent = controller.getAgent();

            // One episode by hand, step by step as in the pattern's sequence diagram.
            Architecture architecture = controller.generateArchitecture(); // the agent's policy() samples it
            System.out.println("Training CNN " + architecture.describe() + " ...");
            Network child = controller.trainNetwork(architecture);
            for (String layer : child.layers()) {
                System.out.println("  " + layer);
            }
            Metrics metrics = controller.evaluateNetwork();
            System.out.println("Validation: " + metrics);
            System.out.printf("Baseline (valueFunction) %.4f, reward %+.4f%n", agent.valueFunction(),
                    agent.reward(metrics));
            Architecture next = agent.policy(); // the policy samples; it never takes the argmax
            controller.trainNetwork(next);
            System.out.printf("policy() sampled %s: reward %+.4f%n", next, agent.reward(controller.evaluateNetwork()));
            System.out.println("updatePolicy(): " + agent.updatePolicy());

            // Then the whole loop, run by the engine, reporting each child back on this thread.
            SearchListener printer = new SearchListener() {
                @Override
                public void onEpisode(Episode episode) {
                    System.out.println(episode);
                }
            };
            SearchResult result = controller.search(episodes, printer);
            System.out.println();
            System.out.println("Best architecture    " + result.best().architecture());
            System.out.printf("Validation accuracy  %.4f   (episode %d)%n", result.best().accuracy(),
                    result.best().episode());
            System.out.printf("Test accuracy        %.4f%n", result.test().accuracy());
            System.out.println("Record               " + controller.runDir());
        } catch (NASException e) { // the engine's one line: a bad config, a missing python, a wrong token
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        }
        // --8<-- [end:java]
    }
}
