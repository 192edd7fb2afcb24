import java.util.Arrays;

import naspattern.Diagnostics;
import naspattern.NASGateway;
import naspattern.SearchListener;

/** What the py4j bridge costs: median round trips of a trivial call and of a listener callback. */
public final class BridgeBench {
    public static void main(String[] args) {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        try (NASGateway gateway = NASGateway.launch()) {
            Diagnostics bridge = gateway.diagnostics();
            SearchListener listener = episode -> { };
            for (int i = 0; i < 100; i++) { // warm up both directions
                bridge.echo("warm-up");
            }
            bridge.medianCallbackSeconds(listener, 100);
            long[] nanos = new long[calls];
            for (int i = 0; i < calls; i++) {
                long start = System.nanoTime();
                bridge.echo("ping");
                nanos[i] = System.nanoTime() - start;
            }
            Arrays.sort(nanos);
            double call = nanos[calls / 2] / 1e3;
            double callback = bridge.medianCallbackSeconds(listener, calls) * 1e6;
            System.out.println("Engine: " + gateway.engine().version());
            System.out.printf("JVM -> Python call (echo), median of %d:          %8.1f us%n", calls, call);
            System.out.printf("Python -> JVM callback (shouldStop), median of %d: %8.1f us%n", calls, callback);
            // After each child the engine builds 3 Java values (architecture, metrics, episode) and
            // makes 2 listener calls: about 5 callbacks, against seconds of training per child.
            System.out.printf("Bridge cost per child (about 5 callbacks):          %8.2f ms%n", 5 * callback / 1e3);
        }
    }
}
