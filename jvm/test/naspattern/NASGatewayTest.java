package naspattern;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

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
        String runDir = new File(folder.getRoot(), "run").getPath();
        return gateway.controller("{\"network\": \"cnn\", \"train-limit\": 500, \"children-per-update\": 2,"
                + " \"device\": \"cpu\", \"seed\": 0, \"run-dir\": \"" + runDir + "\"" + extra + "}");
    }

    @Test
    public void oneRoundGenerateTrainEvaluateReward() throws IOException {
        NASController controller = controller("");
        RLAgent agent = controller.getAgent();
        Architecture architecture = controller.generateArchitecture();
        assertTrue(architecture.describe(), architecture.describe().startsWith("conv "));
        Network child = controller.trainNetwork(architecture);
        assertEquals(architecture, child.architecture());
        assertTrue(child.layers().length >= 3);
        Metrics metrics = controller.evaluateNetwork();
        assertTrue("better than chance: " + metrics, metrics.accuracy() > 0.2 && metrics.accuracy() <= 1.0);
        assertTrue(metrics.params() > 0);
        assertTrue(Double.isNaN(agent.valueFunction())); // no estimate before the first reward
        double reward = agent.reward(metrics);
        assertEquals(0.0, reward, 1e-9); // the first reward starts the moving-average baseline
        assertEquals(metrics.accuracy(), agent.valueFunction(), 1e-6);
        assertEquals(architecture, controller.getNetwork().architecture());
        assertTrue(agent.updatePolicy().contains("\"entropy\""));
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
    public void badConfigsGetOneClearLine() throws IOException {
        String[][] cases = {
            {"{\"dataset\": \"nope\"}", "invalid choice: 'nope'"},
            {"{\"episodes\": 0}", "must be >= 1, got 0"},
            {"{\"network\": \"cnn\",", "config is not valid JSON"},
            {"[1, 2]", "config must be a JSON object"},
            {"{\"colour\": \"red\"}", "unknown config key 'colour'"},
            {"{\"space\": \"/nonexistent/space.json\"}", "/nonexistent/space.json"},
            {"{\"data-dir\": \"/nonexistent\", \"dataset\": \"mnist\"}", "/nonexistent"},
        };
        for (String[] c : cases) {
            try {
                gateway.controller(c[0]);
                fail("accepted " + c[0]);
            } catch (NASException e) {
                assertOneLine(e, c[1]);
            }
        }
        NASController controller = controller("");
        byte[] config = Files.readAllBytes(new File(controller.runDir(), "config.json").toPath());
        try {
            controller(""); // the same run directory again
            fail("accepted a run directory that holds a search");
        } catch (NASException e) {
            assertOneLine(e, "already holds a search");
        }
        assertTrue(Arrays.equals(config, Files.readAllBytes(new File(controller.runDir(), "config.json").toPath())));
        try {
            controller.search(0, null);
            fail("accepted 0 episodes");
        } catch (NASException e) {
            assertOneLine(e, "episodes must be >= 1, got 0");
        }
        try {
            controller.evaluateNetwork();
            fail("evaluated before training");
        } catch (NASException e) {
            assertOneLine(e, "needs train_network() first");
        }
    }

    private static void assertOneLine(NASException e, String expected) {
        String message = e.getMessage();
        assertTrue("'" + message + "' should contain '" + expected + "'", message.contains(expected));
        assertFalse("one line, not a traceback: " + message, message.contains("\n") || message.contains("Traceback"));
    }

    @Test
    public void aWrongTokenIsRefused() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(System.getenv().getOrDefault(NASGateway.PYTHON_ENV, "python3"),
                "-m", "nas_pattern.gateway");
        builder.environment().put(NASGateway.TOKEN_ENV, "the-right-token");
        builder.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process engine = builder.start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(engine.getInputStream(), StandardCharsets.UTF_8));
            String ready = out.readLine();
            assertNotNull("the engine printed nothing", ready);
            assertTrue(ready, ready.startsWith(NASGateway.READY + " "));
            int port = Integer.parseInt(ready.substring(NASGateway.READY.length() + 1));
            try {
                NASGateway.connect(port, "a-wrong-token").close();
                fail("a wrong token was accepted");
            } catch (NASException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("refused the connection"));
                assertTrue(e.getMessage(), e.getMessage().contains("auth token"));
            }
            try {
                NASGateway.connect(port, null).close();
                fail("a missing token was accepted");
            } catch (NASException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("refused the connection"));
            }
            NASGateway right = NASGateway.connect(port, "the-right-token");
            assertTrue(right.engine().version().startsWith("nas-pattern"));
            right.close(); // shuts the engine down
            assertTrue("the engine did not exit", engine.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, engine.exitValue());
        } finally {
            engine.destroyForcibly();
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
        try {
            NASGateway.launch(new NASGateway.Options().python("/nonexistent/python").echoOutput(false));
            fail("launched a missing python");
        } catch (NASException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("cannot start the Python engine"));
        }
    }
}
