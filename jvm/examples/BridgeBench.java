import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import naspattern.Diagnostics;
import naspattern.FoundModel;
import naspattern.Idx;
import naspattern.NASController;
import naspattern.NASGateway;
import naspattern.SearchListener;

/**
 * What the py4j bridge costs: median round trips of a trivial call and of a listener callback; then
 * a found model's calls (a one-child search's best.pt) on the first N test images, from the JVM
 * against the same calls in Python, run in the same bench: {@code predict} of the pixels, and
 * {@code readImages} of the images written as PNG files. Arguments: calls (1000), N (10000).
 */
public final class BridgeBench {
    /** Python's own predict and read_images of the same model and files, medians of 3, in seconds. */
    private static final String IN_PYTHON = String.join("\n",
            "import statistics, sys, time",
            "from nas_pattern import load_model",
            "from nas_pattern.data import FASHION_MNIST_DIR, read_idx",
            "model = load_model(sys.argv[1])",
            "images = read_idx(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte')[:int(sys.argv[2])]",
            "def median(call):",
            "    seconds = []",
            "    for _ in range(3):",
            "        start = time.perf_counter()",
            "        call()",
            "        seconds.append(time.perf_counter() - start)",
            "    return statistics.median(seconds)",
            "print(median(lambda: model.predict(images)), median(lambda: model.read_images(sys.argv[3])))");

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int images = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        Path work = Files.createTempDirectory("bridge-bench");
        try (NASGateway gateway = NASGateway.launch(new NASGateway.Options().echoOutput(false))) {
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

            // A found model's calls, each a batch of images in one call: what the bridge adds to them.
            String modelPath;
            try (NASController controller = gateway.controller(Map.of("train-limit", 300, "seed", 0, "run-dir",
                    work.resolve("run").toString(), "no-tensorboard", true))) {
                modelPath = controller.search(1, e -> { }).modelPath();
            }
            FoundModel model = gateway.loadModel(modelPath);
            float[][] pixels = Idx.images(Path.of(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), images);
            File pngs = Files.createDirectory(work.resolve("png")).toFile();
            for (int i = 0; i < pixels.length; i++) {
                BufferedImage png = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                png.getRaster().setPixels(0, 0, 28, 28, pixels[i]);
                ImageIO.write(png, "png", new File(pngs, String.format("%05d.png", i)));
            }
            model.predict(pixels); // warm up
            double predict = median(() -> model.predict(pixels));
            double read = median(() -> model.readImages(List.of(pngs.getPath())));
            Process python = new ProcessBuilder(System.getenv().getOrDefault(NASGateway.PYTHON_ENV, "python3"), "-c",
                    IN_PYTHON, modelPath, String.valueOf(pixels.length), pngs.getPath())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String[] inPython = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                    .strip().split(" ");
            if (python.waitFor() != 0 || inPython.length != 2) {
                throw new IllegalStateException("the timing in Python failed: " + String.join(" ", inPython));
            }
            double predictInPython = Double.parseDouble(inPython[0]);
            double readInPython = Double.parseDouble(inPython[1]);
            System.out.printf("FoundModel.predict, %d test images, median of 3:      %6.3f s; in Python %6.3f s"
                    + " (%.2fx)%n", pixels.length, predict, predictInPython, predict / predictInPython);
            System.out.printf("FoundModel.readImages, %d PNG files, median of 3:    %6.3f s; in Python %6.3f s"
                    + " (%.2fx)%n", pixels.length, read, readInPython, read / readInPython);
        } finally {
            try (var files = Files.walk(work)) {
                files.sorted((a, b) -> b.compareTo(a)).forEach(path -> path.toFile().delete());
            } catch (IOException | UncheckedIOException e) {
                System.err.println("BridgeBench: could not remove " + work + ": " + e.getMessage());
            }
        }
    }

    private static double median(Runnable call) {
        double[] seconds = new double[3];
        for (int i = 0; i < seconds.length; i++) {
            long start = System.nanoTime();
            call.run();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        return seconds[1];
    }
}
