import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import naspattern.Architecture;
import naspattern.Episode;
import naspattern.FoundModel;
import naspattern.Idx;
import naspattern.Metrics;
import naspattern.NASController;
import naspattern.NASException;
import naspattern.NASGateway;
import naspattern.Network;
import naspattern.Prediction;
import naspattern.RLAgent;
import naspattern.SearchResult;

/**
 * The pattern's sample, made real: every architecture below is sampled by the Python RLAgent and
 * every accuracy comes from a child network trained by PyTorch, through the py4j bridge.
 *
 * <p>Usage: {@code java -cp <classes>:<py4j jar> NASExample [episodes] [run-dir] [--weight-sharing]} with
 * NAS_PATTERN_PYTHON naming a python that has nas_pattern installed; {@code --weight-sharing} scores the
 * children with a supernet's shared weights instead of training each (the best are then trained from scratch).
 */
public final class NASExample {
    private static final String USAGE = "usage: NASExample [episodes] [run-dir] [--weight-sharing]";
    private static final String HELP = USAGE + """

              episodes          the children searched after the two trained by hand (default: 6)
              run-dir           where the search is recorded (default: runs/java-example-<milliseconds>)
              --weight-sharing  score the children with a supernet's shared weights; the best are then
                                trained from scratch
            The engine: $NAS_PATTERN_PYTHON (default: python3), a python with nas_pattern installed.""";

    public static void main(String[] args) {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            System.out.println(HELP);
            return;
        }
        List<String> positional = Arrays.stream(args).filter(a -> !a.startsWith("--")).toList();
        List<String> unknown = Arrays.stream(args).filter(a -> a.startsWith("--") && !a.equals("--weight-sharing"))
                .toList();
        if (!unknown.isEmpty() || positional.size() > 2) {
            refuse(unknown.isEmpty() ? "unexpected argument " + positional.get(2) : "unknown flag " + unknown.get(0));
        }
        int episodes = positional.size() > 0 ? episodes(positional.get(0)) : 6;
        String runDir = positional.size() > 1 ? positional.get(1) : "runs/java-example-" + System.currentTimeMillis();
        boolean weightSharing = Arrays.asList(args).contains("--weight-sharing");
        // --8<-- [start:java]
        Map<String, Object> config = Map.of("dataset", "fashion-mnist", "network", "cnn", "children-per-update", 2,
                "epochs", 1, "train-limit", 2000, "seed", 0, "run-dir", runDir, "weight-sharing", weightSharing);

        // Each closed in turn, the controller first: it releases the run directory, the gateway the engine.
        try (NASGateway gateway = NASGateway.launch(); NASController controller = gateway.controller(config)) {
            System.out.println("Engine: " + gateway.engine().version());
            RLAgent agent = controller.getAgent();

            // The m = 2 children of one policy update by hand, step by step as in the sequence diagram.
            for (int child = 1; child <= 2; child++) {
                Architecture architecture = controller.generateArchitecture(); // the agent's policy() samples it
                System.out.println("Training CNN " + architecture.describe() + " ...");
                Network network = controller.trainNetwork(architecture);
                for (String layer : network.layers()) {
                    System.out.println("  " + layer);
                }
                Metrics metrics = controller.evaluateNetwork(); // the controller calls agent.reward(sample, metrics)
                System.out.printf("Validation: %s; baseline now (valueFunction) %.4f%n", metrics,
                        agent.valueFunction());
            }

            // Then the loop, run by the engine (it updated the policy after the second child), each
            // child reported back on this thread.
            SearchResult result = controller.search(episodes, episode -> System.out.println(episode));
            System.out.println();
            // With weight sharing, the best by shared score were trained from scratch: the product is one of them.
            for (Episode e : result.derived()) {
                System.out.printf("From scratch [%d] %s  shared again %.4f  %s%n", e.episode(), e.architecture(),
                        result.rescored().get(e.episode()).accuracy(),
                        "ok".equals(e.status()) ? String.format("val %.4f", e.accuracy())
                                : e.status() + ": " + e.reason());
            }
            System.out.println("Best architecture    " + result.best().architecture());
            System.out.printf("Validation accuracy  %.4f   (episode %d)%n", result.best().accuracy(),
                    result.best().episode());
            System.out.printf("Test accuracy        %.4f%n", result.test().accuracy());
            System.out.println("Record               " + result.runDir());

            // The search's product: the best model, loaded and used on a few test images (closed after).
            try (FoundModel model = gateway.loadModel(result.modelPath())) {
                float[][] images = Idx.images(Path.of(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), 5);
                int[] labels = Idx.labels(Path.of(Idx.FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"), 5);
                Prediction prediction = model.predict(images);
                System.out.println("Model                " + result.modelPath());
                for (int i = 0; i < images.length; i++) {
                    int predicted = prediction.classes()[i];
                    System.out.printf("  test image %d: %s (p = %.2f), label %s%n", i,
                            model.classNames().get(predicted), prediction.probabilities()[i][predicted],
                            model.classNames().get(labels[i]));
                }
            }
        } catch (NASException e) { // the engine's one line: a bad config, a missing python, a dead engine
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        }
        // --8<-- [end:java]
    }

    /** The episodes argument: the children searched after the two by hand, at least 1. */
    private static int episodes(String text) {
        try {
            int episodes = Integer.parseInt(text);
            if (episodes >= 1) {
                return episodes;
            }
        } catch (NumberFormatException e) {
            // refused below, with the usage
        }
        refuse("episodes must be an integer >= 1, got " + text);
        return 0; // not reached: refuse exits
    }

    /** A bad command line: one line on stderr and exit status 2, before any engine starts. */
    private static void refuse(String why) {
        System.err.println("NASExample: error: " + why + " (" + USAGE + ")");
        System.exit(2);
    }
}
