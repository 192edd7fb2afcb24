package naspattern;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.ZipFile;

import javax.imageio.ImageIO;

import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import py4j.ClientServer;
import py4j.Gateway;
import py4j.GatewayServer;

/** The Java client against a live Python engine, on a small Fashion-MNIST budget on the CPU. */
public class NASGatewayTest {
    private static NASGateway gateway;

    @Rule
    public TemporaryFolder folder = new TemporaryFolder();

    @BeforeClass
    public static void launch() {
        gateway = NASGateway.launch(new NASGateway.Options().echoOutput(false));
    }

    @AfterClass
    public static void close() {
        gateway.close();
    }

    private NASController controller(String extra) throws IOException {
        return controller("run", extra);
    }

    private NASController controller(String folderName, String extra) throws IOException {
        String runDir = new File(folder.getRoot(), folderName).getPath();
        return gateway.controller("{\"network\": \"cnn\", \"train-limit\": 500, \"children-per-update\": 2,"
                + " \"device\": \"cpu\", \"seed\": 0, \"run-dir\": \"" + runDir + "\"" + extra + "}");
    }

    @Test
    public void oneRoundGenerateTrainEvaluateReward() throws IOException {
        NASController controller = controller("");
        RLAgent agent = controller.getAgent();
        assertTrue(Double.isNaN(agent.valueFunction())); // no estimate before the first reward
        Architecture architecture = controller.generateArchitecture();
        assertTrue(architecture.describe(), architecture.describe().startsWith("conv "));
        Network child = controller.trainNetwork(architecture);
        assertEquals(architecture, child.architecture());
        assertTrue(child.layers().length >= 3);
        Metrics metrics = controller.evaluateNetwork(); // the controller rewards the agent, as in the diagram
        assertTrue("better than chance: " + metrics, metrics.accuracy() > 0.2 && metrics.accuracy() <= 1.0);
        assertTrue(metrics.params() > 0);
        assertEquals(metrics.accuracy(), agent.valueFunction(), 1e-6); // the first reward starts the baseline
        assertEquals(architecture, controller.getNetwork().architecture());
        // The second child completes the update of m = 2; both are recorded like a search's children.
        controller.trainNetwork(controller.generateArchitecture());
        controller.evaluateNetwork();
        List<String> lines = Files.readAllLines(new File(controller.runDir(), "episodes.jsonl").toPath());
        assertEquals(2, lines.size());
        assertTrue(lines.get(0), lines.get(0).contains("\"episode\": 1") && lines.get(0).contains("\"update\": null"));
        assertTrue(lines.get(1), lines.get(1).contains("\"episode\": 2") && lines.get(1).contains("\"entropy\""));
        SearchResult result = controller.search(1, episode -> { });
        assertEquals(3, result.episodes()); // search(n) runs n more, numbered after the ones by hand
    }

    @Test
    public void aSampleDrawnFromTheAgentByHandDoesNotShiftTheControllersRewards() throws IOException {
        NASController controller = controller("by-hand", "");
        RLAgent agent = controller.getAgent();
        Sample mine = agent.policy(); // a sample the controller does not know about
        Architecture architecture = controller.generateArchitecture();
        controller.trainNetwork(architecture);
        Metrics metrics = controller.evaluateNetwork(); // rewards the controller's sample, not mine
        assertEquals(metrics.accuracy(), agent.valueFunction(), 1e-6); // the first reward: its own score
        Metrics invented = new Metrics(0.5, 1.0, 10, 0.1);
        Metrics noChilds = new Metrics(Double.NaN, 1.0, 10, 0.1);
        NASException nan = assertThrows(NASException.class, () -> agent.reward(mine, noChilds));
        assertOneLine(nan, "with accuracy nan and 10 params: the accuracy is a fraction in [0, 1]");
        agent.reward(mine, invented); // still open: it was not taken for the controller's child, nor for the NaN
        NASException twice = assertThrows(NASException.class, () -> agent.reward(mine, invented));
        assertOneLine(twice, "sample " + mine.number() + " (" + mine.architecture().describe() + "): it was rewarded already");
        NASException stranger = assertThrows(NASException.class,
                () -> agent.reward(new Sample(99, mine.architecture()), invented));
        assertOneLine(stranger, "cannot reward sample 99: this RLAgent never gave it to the JVM");
        Sample late = agent.policy();
        controller.trainNetwork(controller.generateArchitecture());
        controller.evaluateNetwork(); // the second child of m = 2: the policy update
        NASException stale = assertThrows(NASException.class, () -> agent.reward(late, invented));
        assertOneLine(stale, "given out before the policy update that followed it");
        List<String> lines = Files.readAllLines(new File(controller.runDir(), "episodes.jsonl").toPath());
        assertEquals(2, lines.size());
        assertTrue(lines.get(0), lines.get(0).contains(architecture.json().substring(0, 20)));
    }

    @Test
    public void engineObjectsPrintCompareAndHash() throws IOException {
        NASController controller = controller("");
        assertTrue(controller.toString(), controller.toString().startsWith("NASController"));
        assertTrue(controller.toString(), controller.toString().contains(controller.runDir()));
        RLAgent agent = controller.getAgent();
        assertTrue(agent.toString(), agent.toString().startsWith("RLAgent"));
        assertEquals(agent, controller.getAgent()); // the same engine object, whichever proxy
        assertEquals(agent.hashCode(), controller.getAgent().hashCode());
        assertFalse(agent.equals(controller));
        Set<Object> set = new HashSet<>(Arrays.asList(agent, controller.getAgent(), controller, controller));
        assertEquals(2, set.size());
        Network child = controller.trainNetwork(controller.generateArchitecture());
        assertTrue(child.toString(), child.toString().contains(child.architecture().describe()));
        assertEquals(child, controller.getNetwork());
    }

    @Test
    public void everyFailureIsOneNASExceptionWithoutATraceback() throws IOException {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        NASGateway own;
        try {
            own = NASGateway.launch(); // echoes the engine's stderr to the (captured) System.err
        } finally {
            System.setErr(stderr);
        }
        try {
            assertOneLine(assertThrows(NASException.class, () -> own.controller((String) null)), "got null");
            assertOneLine(assertThrows(NASException.class, () -> own.engine().newController(null)),
                    "config must be a JSON object");
            assertOneLine(assertThrows(NASException.class, () -> own.controller("{\"episodes\": 0}")),
                    "must be >= 1, got 0");
        } catch (AssertionError e) { // what the engine printed says why
            throw new AssertionError(e.getMessage() + "; the engine's stderr: "
                    + captured.toString(StandardCharsets.UTF_8), e);
        } finally {
            own.close();
        }
        String printed = captured.toString(StandardCharsets.UTF_8);
        assertFalse("input errors print no traceback: " + printed, printed.contains("Traceback"));
    }

    @Test
    public void anEngineErrorOutsideANASExceptionIsReportedByTheLastLineOfItsTraceback() {
        String py4j = "An exception was raised by the Python Proxy. Return Message: ";
        assertEquals(py4j + "ValueError: config must be a JSON object", NASGateway.errorLine(py4j
                + "Traceback (most recent call last):\n  File \"gateway.py\", line 138, in newController\n"
                + "ValueError: config must be a JSON object\n"));
        assertEquals("a refusal", NASGateway.errorLine("a refusal\nand more"));
    }

    @Test
    public void aDeadEngineSaysItExitedAndHow() throws Exception {
        NASGateway own = NASGateway.launch(new NASGateway.Options().echoOutput(false));
        try {
            NASController controller = own.controller(Map.of("run-dir", new File(folder.getRoot(), "dead").getPath(),
                    "train-limit", 200, "device", "cpu"));
            own.process().destroyForcibly().waitFor(20, TimeUnit.SECONDS);
            {
                NASException e = assertThrows(NASException.class, () -> controller.generateArchitecture());
                assertOneLine(e, "the Python engine exited with status");
                assertEquals(NASException.Reason.ENGINE_EXITED, e.reason());
            }
            assertOneLine(assertThrows(NASException.class, () -> own.engine().version()),
                    "the Python engine exited with status");
            controller.close(); // the dead engine released all it held: a finally block may close it quietly
        } finally {
            own.close();
        }
    }

    @Test
    public void twoControllersWithOneSeedSearchAlikeAtOnce() throws Exception {
        NASController first = controller("first", "");
        NASController second = controller("second", "");
        CompletableFuture<SearchResult> a = CompletableFuture.supplyAsync(() -> first.search(3, e -> { }));
        CompletableFuture<SearchResult> b = CompletableFuture.supplyAsync(() -> second.search(3, e -> { }));
        SearchResult one = a.get(300, TimeUnit.SECONDS);
        SearchResult other = b.get(300, TimeUnit.SECONDS);
        List<String> left = Files.readAllLines(new File(first.runDir(), "episodes.jsonl").toPath());
        List<String> right = Files.readAllLines(new File(second.runDir(), "episodes.jsonl").toPath());
        assertEquals(3, left.size());
        for (int i = 0; i < left.size(); i++) { // the same architectures, accuracies and rewards; not the times
            assertEquals(left.get(i).replaceAll("\"(seconds|train_seconds)\": [0-9.e-]+", ""),
                    right.get(i).replaceAll("\"(seconds|train_seconds)\": [0-9.e-]+", ""));
        }
        assertEquals(one.best().accuracy(), other.best().accuracy(), 0.0);
        assertEquals(one.test().accuracy(), other.test().accuracy(), 0.0);
    }

    @Test
    public void searchNIsTheBudgetAndTheResultSaysWhereItIsRecorded() throws IOException {
        NASController controller = controller(", \"episodes\": 40");
        SearchResult result = controller.search(2, e -> { });
        assertEquals(2, result.episodes());
        assertEquals(0, result.recordedBefore());
        assertEquals(List.of(), result.derived()); // no weight sharing
        assertEquals(Map.of(), result.rescored());
        assertEquals(0.0, result.deriveSeconds(), 0.0);
        assertEquals(new File(controller.runDir()).getAbsolutePath(), result.runDir());
        assertTrue(new File(result.runDir()).isAbsolute());
        String config = Files.readString(new File(controller.runDir(), "config.json").toPath());
        assertTrue(config, config.contains("\"episodes\": 2")); // recorded as searched, for a resume from the CLI
    }

    @Test
    public void aTinyWeightSharingSearchScoresWithTheSupernetAndTrainsItsPickFromScratch() throws IOException {
        NASController controller = controller(", \"weight-sharing\": true, \"shared-steps\": 3,"
                + " \"shared-val-images\": 100, \"derive-top\": 2");
        List<Episode> episodes = new ArrayList<>();
        List<Episode> derived = new ArrayList<>();
        SearchResult result = controller.search(8, new SearchListener() {
            @Override
            public void onEpisode(Episode episode) {
                episodes.add(episode);
            }

            @Override
            public void onDerived(Episode episode) { // each candidate as it is trained from scratch
                derived.add(episode);
            }
        });
        assertEquals(8, episodes.size());
        for (Episode episode : episodes) {
            assertEquals(episode.toString(), "shared", episode.evaluation());
            assertTrue(episode.toString(), episode.toString().contains("shared val"));
        }
        assertEquals("standalone", result.best().evaluation()); // the product: retrained from scratch
        assertTrue(result.modelPath(), new File(result.modelPath()).isFile());
        // The candidates trained from scratch, in the order of the scores that chose them
        assertEquals(2, result.derived().size());
        assertTrue(result.derived().toString(), result.derived().contains(result.best()));
        List<Integer> chosen = new ArrayList<>(result.rescored().keySet()).subList(0, 2);
        assertEquals(chosen, result.derived().stream().map(Episode::episode).toList());
        assertEquals(result.derived(), derived);
        double last = Double.POSITIVE_INFINITY;
        for (Metrics again : result.rescored().values()) {
            assertTrue(result.rescored().toString(), again.accuracy() <= last);
            last = again.accuracy();
        }
        assertThrows(UnsupportedOperationException.class, () -> result.derived().clear());
        assertTrue(result.toString(), result.deriveSeconds() > 0); // the derivation's time, apart from seconds()
        String summary = Files.readString(new File(controller.runDir(), "summary.json").toPath());
        assertTrue(summary, summary.contains("\"derived\""));
    }

    @Test
    public void imagesHeldOnTheJvmWrittenAsAnNpzFileAreSearchedAndTheModelNamesTheirClasses() throws IOException {
        float[][] images = Idx.images(Path.of(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), 300);
        int[] labels = Idx.labels(Path.of(Idx.FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"), 300);
        List<String> names = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot");
        Path file = Npz.write(folder.getRoot().toPath().resolve("mine.npz"), 1, 28, 28,
                Arrays.copyOf(images, 250), Arrays.copyOf(labels, 250), Arrays.copyOfRange(images, 250, 300),
                Arrays.copyOfRange(labels, 250, 300), names);
        NASController controller = controller(", \"dataset\": \"npz\", \"data-dir\": \"" + file + "\"");
        SearchResult result = controller.search(1, null);
        try (FoundModel model = gateway.loadModel(result.modelPath())) {
            assertEquals(names, model.classNames());
            Prediction prediction = model.predict(Arrays.copyOfRange(images, 250, 300));
            int right = 0;
            for (int i = 0; i < 50; i++) {
                right += prediction.classes()[i] == labels[250 + i] ? 1 : 0;
            }
            // the test split is the file's (within 2 images: the search may evaluate in bfloat16, predict in float32)
            assertEquals(result.test().accuracy(), right / 50.0, 0.041);
        }
        Path other = folder.getRoot().toPath().resolve("other.npz");
        String[] cases = {
            "trainImages[1] has 783 values; an image of 1x28x28 (channels x height x width) has 784",
            "trainImages[0] holds 0.5: images must be raw pixel values, whole numbers 0-255",
            "testLabels must hold one label an image, 2; got 1",
            "trainLabels holds 9, not a class of the 2 classNames (0 to 1)",
            "classNames[1] is null; give each class a name",
        };
        float[][] short1 = {images[0], Arrays.copyOf(images[1], 783)};
        float[][] fraction = {images[0].clone()};
        fraction[0][0] = 0.5f;
        int[] nine = {9, 0};
        List<Runnable> writes = List.of(
            () -> Npz.write(other, 1, 28, 28, short1, new int[2], short1, new int[2], List.of()),
            () -> Npz.write(other, 1, 28, 28, fraction, new int[1], fraction, new int[1], List.of()),
            () -> Npz.write(other, 1, 28, 28, images, labels, Arrays.copyOf(images, 2), new int[1], List.of()),
            () -> Npz.write(other, 1, 28, 28, Arrays.copyOf(images, 2), nine, images, labels, List.of("a", "b")),
            () -> Npz.write(other, 1, 28, 28, images, labels, images, labels, Arrays.asList("a", null)));
        for (int i = 0; i < cases.length; i++) {
            assertOneLine(assertThrows(NASException.class, writes.get(i)::run), cases[i]);
        }
        assertFalse(Files.exists(other)); // nothing written
    }

    @Test
    public void aValidationSplitOfOnesOwnWrittenAsAnNpzFileIsTheOneTheChildrenAreScoredOn() throws IOException {
        float[][] images = Idx.images(Path.of(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), 250);
        int[] labels = Idx.labels(Path.of(Idx.FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"), 250);
        Path file = Npz.write(folder.getRoot().toPath().resolve("mine.npz"), 1, 28, 28,
                Arrays.copyOf(images, 200), Arrays.copyOf(labels, 200), Arrays.copyOfRange(images, 200, 207),
                Arrays.copyOfRange(labels, 200, 207), Arrays.copyOfRange(images, 207, 250),
                Arrays.copyOfRange(labels, 207, 250), List.of());
        List<String> entries = new ArrayList<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            zip.stream().forEach(entry -> entries.add(entry.getName()));
        }
        assertEquals(List.of("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy",
                "val_images.npy", "val_labels.npy"), entries);
        NASController controller = controller(", \"dataset\": \"npz\", \"data-dir\": \"" + file + "\"");
        double accuracy = controller.search(1, null).best().metrics().accuracy();
        // scored on the 7 images given, not on 40 held out of the 200 training images
        assertTrue(String.valueOf(accuracy), accuracy > 0 && accuracy < 1
                && Math.abs(accuracy * 7 - Math.rint(accuracy * 7)) < 1e-6);
        Path other = folder.getRoot().toPath().resolve("other.npz");
        assertOneLine(assertThrows(NASException.class, () -> Npz.write(other, 1, 28, 28, images, labels, images,
                null, images, labels, List.of())), "give valImages with valLabels (the validation split), or neither");
        assertOneLine(assertThrows(NASException.class, () -> Npz.write(other, 1, 28, 28, images, labels, images,
                new int[3], images, labels, List.of())), "valLabels must hold one label an image, 250; got 3");
        assertFalse(Files.exists(other)); // nothing written
    }

    @Test
    public void theFoundModelClassifiesAsPythonDoes() throws Exception {
        NASController controller = controller("");
        SearchResult result = controller.search(2, e -> { });
        assertTrue(result.modelPath(), new File(result.modelPath()).isFile());
        FoundModel model = gateway.loadModel(result.modelPath());
        assertTrue(model.toString(), model.toString().contains(result.best().architecture().describe()));
        Path file = Path.of(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz");
        float[][] images = Idx.images(file, 20);
        Prediction prediction = model.predict(images);
        assertEquals(20, prediction.classes().length);
        for (float[] p : prediction.probabilities()) {
            double sum = 0;
            for (float v : p) {
                sum += v;
            }
            assertEquals(1.0, sum, 1e-4);
        }
        // The same images through Python's load_model(...).predict(...): the same classes.
        String script = "import sys, numpy as np; from nas_pattern import load_model; from nas_pattern.data import "
                + "read_idx; from pathlib import Path; x = read_idx(Path(sys.argv[2]), 't10k-images-idx3-ubyte', "
                + "'fashion-mnist')[:20]; print(' '.join(map(str, load_model(sys.argv[1]).predict(x)[0].tolist())))";
        Process python = new ProcessBuilder(System.getenv().getOrDefault(NASGateway.PYTHON_ENV, "python3"), "-c",
                script, result.modelPath(), Idx.FASHION_MNIST).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String expected = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(python.waitFor(120, TimeUnit.SECONDS));
        StringBuilder got = new StringBuilder();
        for (int c : prediction.classes()) {
            got.append(got.length() > 0 ? " " : "").append(c);
        }
        assertEquals(expected, got.toString());
        assertEquals(List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Ankle boot"), model.classNames());
        assertOneLine(assertThrows(NASException.class, () -> model.predict(new float[][] {new float[3]})),
                "takes 784 per image");
        float[][] fractional = Arrays.stream(images).map(float[]::clone).toArray(float[][]::new);
        fractional[19][0] = 0.5f; // not a byte: all cross as float32, and predict gives what it gave
        assertTrue(Arrays.equals(prediction.classes(), model.predict(fractional).classes()));
        fractional[19][0] = -1; // out of range: refused by the engine, as Python's predict refuses it
        assertOneLine(assertThrows(NASException.class, () -> model.predict(fractional)), "raw pixel values 0-255");

        // Image files: the first three test images as PNG files, in a folder with a file that is no image.
        File photos = folder.newFolder("photos");
        for (int i = 0; i < 3; i++) {
            BufferedImage png = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            png.getRaster().setPixels(0, 0, 28, 28, images[i]);
            ImageIO.write(png, "png", new File(photos, "test image " + i + ".png"));
        }
        Files.writeString(new File(photos, "readme.txt").toPath(), "not an image");
        ImageFiles read = model.readImages(List.of(photos.getPath())); // a folder: its image files, in name order
        assertEquals(List.of(0, 1, 2).stream().map(i -> new File(photos, "test image " + i + ".png").getPath())
                .toList(), read.files());
        assertEquals(List.of("", "", ""), read.notes()); // of the input's size: taken as they are
        assertTrue(Arrays.deepEquals(Arrays.copyOf(images, 3), read.pixels()));
        assertTrue(Arrays.equals(Arrays.copyOf(prediction.classes(), 3), model.predict(read.pixels()).classes()));
        ImageFiles negated = model.readImages(List.of(read.files().get(1)), true);
        for (int v = 0; v < 784; v++) {
            assertEquals(255 - images[1][v], negated.pixels()[0][v], 0);
        }
        assertEquals(negated, model.readImages(List.of(read.files().get(1)), true));
        assertOneLine(assertThrows(NASException.class,
                () -> model.readImages(List.of(read.files().get(0), new File(photos, "readme.txt").getPath()))),
                "readme.txt: not an image Pillow can read");
        assertOneLine(assertThrows(NASException.class, () -> model.readImages(Arrays.asList("a.png", null))),
                "path 1 is null");
        assertEquals(new ImageFiles(List.of(), new float[0][], List.of()), model.readImages(List.of()));
        assertOneLine(assertThrows(NASException.class,
                () -> gateway.loadModel(new File(folder.getRoot(), "nothing").getPath())),
                "does not exist");

        // Closed, the engine lets go of it (its toString comes from the engine); a second copy goes on.
        try (FoundModel again = gateway.loadModel(result.modelPath())) {
            model.close();
            model.close(); // again: nothing
            assertEquals("FoundModel (closed)", model.toString());
            NASException refused = assertThrows(NASException.class, () -> model.predict(images));
            assertOneLine(refused, "this FoundModel was closed: load it again with NASGateway.loadModel");
            assertEquals(NASException.Reason.REFUSED, refused.reason());
            assertOneLine(assertThrows(NASException.class, () -> model.readImages(List.of())), "was closed");
            assertEquals(10, model.classNames().size()); // known on this side
            assertTrue(Arrays.equals(prediction.classes(), again.predict(images).classes()));
        }
    }

    @Test
    public void aMapConfigIsWrittenAsJson() throws IOException {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("run-dir", new File(folder.getRoot(), "quote\"d dir").getPath());
        config.put("train-limit", 200);
        config.put("seed", 1);
        NASController controller = gateway.controller(config);
        assertTrue(controller.runDir(), controller.runDir().endsWith("quote\"d dir"));
    }

    @Test
    public void listenerReceivesEveryChildInOrder() throws IOException {
        NASController controller = controller("");
        final List<Episode> seen = new ArrayList<>();
        final List<String> threads = new ArrayList<>();
        SearchResult result = controller.search(4, new SearchListener() {
            @Override
            public void onEpisode(Episode episode) {
                seen.add(episode);
                threads.add(Thread.currentThread().getName());
            }
        });
        assertEquals(4, seen.size());
        double best = 0;
        for (int i = 0; i < seen.size(); i++) {
            assertEquals(i + 1, seen.get(i).episode());
            assertEquals(Thread.currentThread().getName(), threads.get(i)); // callbacks on the calling thread
            best = Math.max(best, seen.get(i).accuracy());
        }
        assertEquals("budget", result.stopReason());
        assertEquals(4, result.episodes());
        assertEquals(best, result.best().accuracy(), 1e-12);
        assertTrue(result.test().accuracy() > 0.2);
        List<String> lines = Files.readAllLines(new File(controller.runDir(), "episodes.jsonl").toPath());
        assertEquals(4, lines.size());
        assertTrue(new File(controller.runDir(), "summary.json").exists());
    }

    @Test
    public void listenerHearsEachEpochOfTheFinalRetraining() throws IOException {
        // one small architecture: its retraining on all 60,000 training and validation images is quick
        File space = folder.newFile("space.json");
        Files.writeString(space.toPath(), "{\"max_layers\": 1, \"decisions\": [{\"name\": \"filters\", \"choices\": [4]},"
                + " {\"name\": \"kernel_size\", \"choices\": [1]}, {\"name\": \"pool_size\", \"choices\": [2]},"
                + " {\"name\": \"dropout_rate\", \"choices\": [0.0]}]}");
        NASController controller = controller(", \"final-epochs\": 2, \"space\": \"" + space.getPath() + "\"");
        List<String> epochs = new ArrayList<>();
        SearchResult result = controller.search(1, new SearchListener() {
            @Override
            public void onEpisode(Episode episode) {
            }

            @Override
            public void onFinalEpoch(int epoch, int of, double loss) {
                assertTrue("loss " + loss, loss > 0 && Double.isFinite(loss));
                epochs.add(epoch + "/" + of);
            }
        });
        assertEquals(List.of("1/2", "2/2"), epochs);
        String summary = Files.readString(new File(result.runDir(), "summary.json").toPath());
        assertTrue(summary, summary.contains("\"final_epochs\": 2"));
    }

    @Test
    public void listenerStopsTheSearchEarly() throws IOException {
        NASController controller = controller("");
        final List<Episode> seen = new ArrayList<>();
        SearchResult result = controller.search(10, new SearchListener() {
            @Override
            public void onEpisode(Episode episode) {
                seen.add(episode);
            }

            @Override
            public boolean shouldStop() {
                return seen.size() == 2;
            }
        });
        assertEquals(2, seen.size());
        assertEquals("stopped", result.stopReason());
        assertEquals(2, result.episodes());
    }

    @Test
    public void aTimeLimitEndsTheSearchWithTheFirstChildPastIt() throws IOException {
        NASController controller = controller(", \"time-limit\": \"0.001s\"");
        SearchResult result = controller.search(10, null);
        assertEquals("time", result.stopReason());
        assertEquals(1, result.episodes());
        assertTrue(new File(result.modelPath()).isFile()); // tested and kept, as at the end of the budget
    }

    @Test
    public void badConfigsGetOneClearLine() throws IOException {
        String[][] cases = {
            {"{\"dataset\": \"nope\"}", "invalid choice: 'nope'"},
            {"{\"episodes\": 0}", "must be >= 1, got 0"},
            {"{\"network\": \"cnn\",", "config is not valid JSON"},
            {"[1, 2]", "config must be a JSON object"},
            {"{\"colour\": \"red\"}", "unknown config key 'colour'"},
            {"{\"space\": \"/nonexistent/space.json\"}", "/nonexistent/space.json"},
            {"{\"data-dir\": \"/nonexistent\", \"dataset\": \"mnist\"}", "/nonexistent"},
            {"{\"data-dir\": \"/nonexistent/mine.npz\", \"dataset\": \"npz\"}",
                "/nonexistent/mine.npz is not there; pass --data-dir with an .npz file"},
        };
        for (String[] c : cases) {
            assertOneLine(assertThrows(NASException.class, () -> gateway.controller(c[0])), c[1]);
        }
        NASController controller = controller("");
        byte[] config = Files.readAllBytes(new File(controller.runDir(), "config.json").toPath());
        // the same run directory again
        assertOneLine(assertThrows(NASException.class, () -> controller("")), "already holds a search");
        assertTrue(Arrays.equals(config, Files.readAllBytes(new File(controller.runDir(), "config.json").toPath())));
        assertOneLine(assertThrows(NASException.class, () -> controller.search(0, null)),
                "episodes must be >= 1, got 0");
        assertOneLine(assertThrows(NASException.class, () -> controller.evaluateNetwork()),
                "needs train_network() first");
    }

    private static void assertOneLine(NASException e, String expected) {
        String message = e.getMessage();
        assertTrue("'" + message + "' should contain '" + expected + "'", message.contains(expected));
        assertFalse("one line, not a traceback: " + message, message.contains("\n") || message.contains("Traceback"));
    }

    /** An engine as one is started by hand for {@link NASGateway#connect}, with {@code token}. */
    private static ProcessBuilder engineStartedByHand(String token) {
        ProcessBuilder builder = new ProcessBuilder(System.getenv().getOrDefault(NASGateway.PYTHON_ENV, "python3"),
                "-m", "nas_pattern.gateway");
        builder.environment().put(NASGateway.TOKEN_ENV, token);
        return builder;
    }

    /** The port of the engine's readiness line, {@code PY4J_READY <port>}. */
    private static int readyPort(Process engine) throws IOException {
        String ready = new BufferedReader(new InputStreamReader(engine.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        assertNotNull("the engine printed nothing", ready);
        assertTrue(ready, ready.startsWith(NASGateway.READY + " "));
        return Integer.parseInt(ready.substring(NASGateway.READY.length() + 1));
    }

    /** The number in the py4j name (o + number) of the next object this gateway hands to Python. */
    private static int nextObjectNumber(NASGateway gateway) throws ReflectiveOperationException {
        Field clientServer = NASGateway.class.getDeclaredField("clientServer");
        clientServer.setAccessible(true);
        Gateway py4j = ((GatewayServer) ((ClientServer) clientServer.get(gateway)).getJavaServer()).getGateway();
        Field counter = Gateway.class.getDeclaredField("objCounter");
        counter.setAccessible(true);
        return ((AtomicInteger) counter.get(py4j)).get();
    }

    @Test
    public void aWrongTokenIsRefused() throws Exception {
        String token = "the-right-token-of-at-least-32-characters";
        Process engine = engineStartedByHand(token).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            int port = readyPort(engine);
            {
                NASException e = assertThrows(NASException.class,
                        () -> NASGateway.connect(port, "a-wrong-token-of-at-least-32-characters").close());
                assertTrue(e.getMessage(), e.getMessage().contains("refused the connection"));
                assertTrue(e.getMessage(), e.getMessage().contains("auth token"));
            }
            for (String weak : new String[] {null, "right-token-123"}) {
                assertOneLine(assertThrows(NASException.class, () -> NASGateway.connect(port, weak).close()),
                        "at least " + NASGateway.MIN_TOKEN_LENGTH + " characters");
            }
            NASGateway right = NASGateway.connect(port, token);
            assertTrue(right.engine().version().startsWith("nas-pattern"));
            int rightNumbers = nextObjectNumber(right);
            right.close(); // only disconnects: the engine is not this gateway's to shut down
            assertFalse("close() after connect() stopped the engine", engine.waitFor(2, TimeUnit.SECONDS));
            NASGateway again = NASGateway.connect(port, token);
            assertTrue(again.engine().version().startsWith("nas-pattern"));
            // The engine's late notes about the objects of the first could otherwise name the second's.
            assertNotEquals("two gateways of one engine name their objects alike", rightNumbers,
                    nextObjectNumber(again));
            again.close();
            engine.getOutputStream().close(); // the engine's own rule: it exits when its stdin closes
            assertTrue("the engine did not exit", engine.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, engine.exitValue());
        } finally {
            engine.destroyForcibly();
        }
    }

    @Test
    public void anEngineReleasesTheControllersOfAJvmThatIsGone() throws Exception {
        String token = "the-right-token-of-at-least-32-characters";
        Process engine = engineStartedByHand(token).start();
        BlockingQueue<String> said = new LinkedBlockingQueue<>(); // the engine's stderr, line by line
        List<String> everything = Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader err = new BufferedReader(new InputStreamReader(engine.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = err.readLine(); line != null; line = err.readLine()) {
                    said.add(line);
                    everything.add(line);
                }
            } catch (IOException e) {
                // the engine is gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            int port = readyPort(engine);
            String runDir = new File(folder.getRoot(), "held").getPath();
            String resume = "{\"resume\": \"" + runDir + "\"}";

            // A JVM killed (no shutdown hook runs) while it holds a controller that recorded a child.
            killHoldingJvm(port, token, runDir, "HOLDING ", 1);
            awaitRelease(said, runDir);

            // A program that ends without closing its gateway or its controller: its JVM ends too (py4j's
            // threads would keep it, and the controller, for good), and the engine lets go.
            String ended = new File(folder.getRoot(), "ended").getPath();
            Process ending = startHoldingJvm(port, token, ended, "--return");
            try {
                assertTrue("the JVM outlived its program", ending.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, ending.exitValue());
            } finally {
                ending.destroyForcibly();
            }
            awaitRelease(said, ended);

            // A JVM that closes its gateway, but not the controller it opened: only a disconnect.
            NASGateway leaving = NASGateway.connect(port, token);
            leaving.controller(resume); // the directory is free again: this controller holds it now
            leaving.close();
            awaitRelease(said, runDir);

            // A JVM killed during a search: the engine stops the search, then closes the controller.
            String searched = new File(folder.getRoot(), "searched").getPath();
            killHoldingJvm(port, token, searched, "EPISODE ", 1, "--search");
            awaitRelease(said, searched);

            // The same with no listener, whose callback would fail: the engine sees the call's connection close.
            String quiet = new File(folder.getRoot(), "quiet").getPath();
            killHoldingJvm(port, token, quiet, "HOLDING ", 3, "--quiet-search");
            awaitRelease(said, quiet);
            int recorded = Files.readAllLines(new File(quiet, "episodes.jsonl").toPath()).size();
            assertTrue("the search went on without its JVM: " + recorded + " children", recorded < 1 + 50);

            try (NASGateway last = NASGateway.connect(port, token)) {
                try (NASController controller = last.controller(resume)) {
                    SearchResult result = controller.search(1, episode -> { });
                    assertEquals(1, result.recordedBefore());
                    assertEquals(2, result.episodes());
                }
                try (NASController controller = last.controller("{\"resume\": \"" + searched + "\"}")) {
                    assertTrue(controller.toString(), controller.toString().contains("children so far"));
                }
            }
            engine.getOutputStream().close();
            assertTrue("the engine did not exit", engine.waitFor(20, TimeUnit.SECONDS));
            reader.join(10_000);
            // its own lines, not py4j's tracebacks of the calls the dead JVMs left unanswered
            assertFalse(String.join("\n", everything), everything.stream().anyMatch(l -> l.contains("Traceback")));
        } finally {
            engine.destroyForcibly();
        }
    }

    /**
     * Starts {@link HoldingJvm} on {@code runDir}, and kills it once it has printed a line starting with
     * {@code line} and its run directory holds {@code recorded} children.
     */
    private static void killHoldingJvm(int port, String token, String runDir, String line, int recorded,
            String... flags) throws IOException, InterruptedException {
        Process holder = startHoldingJvm(port, token, runDir, flags);
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            for (String next = out.readLine(); next != null && !next.startsWith(line); next = out.readLine()) {
                lines.add(next);
            }
            assertTrue("the holding JVM ended before printing '" + line + "': " + lines, holder.isAlive());
            Path episodes = Path.of(runDir, "episodes.jsonl");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (Files.readAllLines(episodes).size() < recorded) {
                assertTrue("the holding JVM recorded no " + recorded + " children in 60 s", holder.isAlive()
                        && System.nanoTime() < deadline);
                Thread.sleep(100);
            }
        } finally {
            holder.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook closes the gateway
        }
    }

    /** Starts {@link HoldingJvm} on {@code runDir}, with its stderr this JVM's. */
    private static Process startHoldingJvm(int port, String token, String runDir, String... flags)
            throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-cp", System.getProperty("java.class.path"), HoldingJvm.class.getName(),
                String.valueOf(port), runDir));
        command.addAll(Arrays.asList(flags));
        ProcessBuilder jvm = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        jvm.environment().put(NASGateway.TOKEN_ENV, token);
        return jvm.start();
    }

    /** Waits for the engine's line saying that it released the controller of {@code runDir}. */
    private static void awaitRelease(BlockingQueue<String> said, String runDir) throws InterruptedException {
        List<String> lines = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String line = said.poll(1, TimeUnit.SECONDS);
            if (line == null) {
                continue;
            }
            lines.add(line);
            if (line.contains(runDir) && line.contains("releasing its run directory")) {
                return;
            }
        }
        throw new AssertionError("in 60 s the engine did not release the controller of " + runDir + "; it said: "
                + String.join(" / ", lines));
    }

    @Test
    public void anEngineRefusesAWeakToken() throws Exception {
        String said = refusal("right-token-123", null);
        assertTrue(said, said.contains("at least 32 characters"));
    }

    /**
     * The one line an engine started by hand with {@code token} (and stdin from {@code input}, when
     * not null) writes on stderr as it refuses to serve, after exiting with status 2.
     */
    private static String refusal(String token, File input) throws IOException, InterruptedException {
        ProcessBuilder builder = engineStartedByHand(token);
        if (input != null) {
            builder.redirectInput(input);
        }
        Process engine = builder.start();
        assertTrue(engine.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, engine.exitValue());
        String said = new String(engine.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertFalse(said, said.contains("\n"));
        return said;
    }

    @Test
    public void aTokenOfFewDistinctCharactersIsRefusedAtBothEnds() throws Exception {
        String weak = "a".repeat(NASGateway.MIN_TOKEN_LENGTH);
        // refused before any connection is tried
        assertOneLine(assertThrows(NASException.class, () -> NASGateway.connect(1, weak).close()),
                "at least " + NASGateway.MIN_TOKEN_DISTINCT + " distinct characters");
        String said = refusal(weak, null);
        assertTrue(said, said.contains("only 1 distinct characters"));
    }

    @Test
    public void anEngineStartedWithNoInputSaysWhyItStops() throws Exception {
        // status 2, not 0: nothing was served
        String said = refusal("the-right-token-of-at-least-32-characters", new File("/dev/null"));
        assertTrue(said, said.contains("stdin closed before any JVM connected") && said.contains("sleep infinity |"));
    }

    @Test
    public void aPythonWithoutNasPatternNamesTheVariableToSet() {
        // -S: no site-packages, so this python cannot import nas_pattern
        NASException e = assertThrows(NASException.class,
                () -> NASGateway.launch(new NASGateway.Options().pythonOptions("-S").echoOutput(false)));
        assertOneLine(e, "No module named");
        assertOneLine(e, "set " + NASGateway.PYTHON_ENV);
    }

    @Test
    public void aNullConfigValueIsRefusedByName() throws IOException {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("run-dir", new File(folder.getRoot(), "null-seed").getPath());
        config.put("seed", null);
        {
            NASException e = assertThrows(NASException.class, () -> gateway.controller(config));
            assertOneLine(e, "config key 'seed' is null");
            assertEquals(NASException.Reason.REFUSED, e.reason());
        }
        assertFalse(new File(folder.getRoot(), "null-seed").exists()); // nothing written
    }

    @Test
    public void aRefusedSearchLeavesTheRunDirectoryFreeAndAClosedControllerPrints() throws IOException {
        String runDir = new File(folder.getRoot(), "reused").getPath();
        String config = "{\"network\": \"cnn\", \"train-limit\": 300, \"device\": \"cpu\", \"seed\": %d, "
                + "\"run-dir\": \"" + runDir + "\"}";
        String firstToString;
        int firstHash;
        NASGateway one = NASGateway.launch(new NASGateway.Options().echoOutput(false));
        NASGateway other = NASGateway.launch(new NASGateway.Options().echoOutput(false));
        try {
            NASController first = one.controller(String.format(config, 0));
            for (int episodes : new int[] {-1, 0}) {
                assertOneLine(assertThrows(NASException.class, () -> first.search(episodes, null)),
                        "episodes must be >= 1");
            }
            // the directory is open in a controller of this engine, and held while that engine runs
            assertOneLine(assertThrows(NASException.class, () -> one.controller(String.format(config, 1))),
                    "open in another controller of this engine");
            assertOneLine(assertThrows(NASException.class, () -> other.controller(String.format(config, 2))),
                    "is held by another search that is still open");
            one.close();
            NASController second = other.controller(String.format(config, 3)); // nothing was recorded: free
            String written = Files.readString(new File(runDir, "config.json").toPath());
            assertTrue(written, written.contains("\"seed\": 3"));
            firstToString = second.toString();
            firstHash = second.hashCode();
            other.close();
            assertEquals("NASController (closed: its NASGateway is closed)", second.toString());
            assertEquals(firstHash, second.hashCode()); // as before the close: sets and maps keep working
            second.close(); // its engine, gone with its gateway, released the directory: nothing to do
            assertTrue(second.equals(second));
        } finally {
            one.close();
            other.close();
        }
        assertTrue(firstToString, firstToString.startsWith("NASController (run dir"));
    }

    @Test
    public void aClosedControllerReleasesItsRunDirectoryAndRefusesToTrain() throws IOException {
        NASController first = controller("closing", ", \"episodes\": 4");
        first.trainNetwork(first.generateArchitecture());
        first.evaluateNetwork(); // episode 1 recorded
        String resume = "{\"resume\": \"" + first.runDir() + "\"}";
        assertOneLine(assertThrows(NASException.class, () -> gateway.controller(resume)),
                "open in another controller of this engine");
        first.close();
        first.close(); // closing twice is nothing
        NASException refused = assertThrows(NASException.class, first::generateArchitecture);
        assertOneLine(refused, "this NASController is closed, and its run directory");
        assertEquals(NASException.Reason.REFUSED, refused.reason());
        assertTrue(first.toString(), first.toString().endsWith(", closed)"));
        final List<NASException> closing = new ArrayList<>();
        try (NASController second = gateway.controller(resume)) { // the directory is free again
            SearchResult result = second.search(1, new SearchListener() {
                @Override
                public void onEpisode(Episode episode) {
                    closing.add(assertThrows(NASException.class, second::close));
                }

                @Override
                public boolean shouldStop() {
                    return false;
                }
            });
            assertEquals(2, result.episodes()); // the first controller's child, then one more
            assertEquals(1, result.recordedBefore());
        }
        assertEquals(1, closing.size());
        assertOneLine(closing.get(0), "while its search() is under way");
        try (NASController third = gateway.controller("{\"resume\": \"" + first.runDir() + "\", \"episodes\": 3}")) {
            assertEquals(3, third.search(1, e -> { }).episodes()); // the second one closed by try-with-resources
        }
    }

    @Test
    public void closingLeavesNoPythonProcess() {
        NASGateway own = NASGateway.launch(new NASGateway.Options().echoOutput(false));
        Process engine = own.process();
        assertTrue(engine.isAlive());
        own.close();
        assertFalse(engine.isAlive());
        assertEquals(0, engine.exitValue());
        own.close(); // a second close is harmless
    }

    @Test
    public void aPythonWithoutTheEngineGetsAClearMessage() {
        {
            NASException e = assertThrows(NASException.class,
                    () -> NASGateway.launch(new NASGateway.Options().python("/nonexistent/python").echoOutput(false)));
            assertTrue(e.getMessage(), e.getMessage().contains("cannot start the Python engine"));
        }
    }
}
