package naspattern;

/**
 * A JVM that connects to an engine started elsewhere, opens a controller, records one child and
 * then, closing nothing, waits to be killed (with {@code --search}: during a search of 50
 * children; with {@code --quiet-search}: the same with no listener) or, with {@code --return},
 * ends its program. NASGatewayTest shows with it that the engine lets go of what a JVM that is
 * gone held. Arguments: the engine's port, a run directory, and one of the flags or nothing; the
 * token in NAS_PATTERN_TOKEN.
 */
public final class HoldingJvm {
    public static void main(String[] args) throws InterruptedException {
        NASGateway gateway = NASGateway.connect(Integer.parseInt(args[0]), System.getenv(NASGateway.TOKEN_ENV));
        NASController controller = gateway.controller("{\"network\": \"cnn\", \"train-limit\": 300, "
                + "\"children-per-update\": 2, \"device\": \"cpu\", \"seed\": 0, \"run-dir\": \"" + args[1] + "\"}");
        controller.trainNetwork(controller.generateArchitecture());
        controller.evaluateNetwork();
        System.out.println("HOLDING " + controller.runDir());
        System.out.flush();
        String flag = args.length > 2 ? args[2] : "";
        if (flag.equals("--return")) { // the program ends, closing nothing
            return;
        }
        if (flag.equals("--search")) { // killed during the search
            controller.search(50, episode -> System.out.println("EPISODE " + episode.episode()));
        } else if (flag.equals("--quiet-search")) { // the same, with no listener
            controller.search(50, null);
        }
        Thread.sleep(Long.MAX_VALUE);
    }
}
