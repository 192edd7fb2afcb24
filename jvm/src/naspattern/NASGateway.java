package naspattern;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import py4j.ClientServer;
import py4j.Gateway;
import py4j.GatewayServer;
import py4j.Py4JException;
import py4j.Py4JNetworkException;

/**
 * The JVM's end of the bridge: launches the Python engine ({@code python -m nas_pattern.gateway}),
 * connects to it through py4j's ClientServer, and hands out controllers.
 *
 * <p>Both ends listen on the loopback address only, on ports the system picks, and require the
 * token this class draws from SecureRandom; the token reaches Python in the environment variable
 * {@value #TOKEN_ENV}, never on the command line. Calls from Python back into the JVM (a
 * {@link SearchListener}) arrive on the thread that made the call into Python. The engine exits when
 * its stdin closes, so it never outlives the JVM; {@link #close()} shuts both ends down in order.
 *
 * <p>Every failure reaches the caller as a {@link NASException} with one line: a refused config, a
 * wrong token, and an engine that died, with its exit status and the last lines it wrote.
 */
public final class NASGateway implements AutoCloseable {
    /** The environment variable that carries the auth token to the Python engine. */
    public static final String TOKEN_ENV = "NAS_PATTERN_TOKEN";
    /** The environment variable naming the Python executable, when Options does not. */
    public static final String PYTHON_ENV = "NAS_PATTERN_PYTHON";
    /** The line the engine prints once it listens, followed by its port. */
    public static final String READY = "PY4J_READY";
    /** The shortest auth token either end accepts: a shorter one is too easy to guess. */
    public static final int MIN_TOKEN_LENGTH = 32;
    /** The fewest distinct characters a token may have: 32 times "a" is long but guessable. */
    public static final int MIN_TOKEN_DISTINCT = 10;
    /** How many of the engine's last stderr lines a "the engine exited" message quotes. */
    private static final int LAST_WORDS = 5;

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** How to launch the engine; every setter returns this. */
    public static final class Options {
        private String python = System.getenv().getOrDefault(PYTHON_ENV, "python3");
        private List<String> pythonOptions = new ArrayList<>();
        private Duration readyTimeout = Duration.ofSeconds(120);
        private File directory = null;
        private boolean echoOutput = true;

        /** The Python executable with nas_pattern installed (default: $NAS_PATTERN_PYTHON or python3). */
        public Options python(String executable) {
            this.python = executable;
            return this;
        }

        /** Options for the interpreter itself, placed before {@code -m nas_pattern.gateway}. */
        public Options pythonOptions(String... options) {
            this.pythonOptions = new ArrayList<>(Arrays.asList(options));
            return this;
        }

        /** How long to wait for the engine's readiness line (importing torch takes seconds). */
        public Options readyTimeout(Duration timeout) {
            this.readyTimeout = timeout;
            return this;
        }

        /** The engine's working directory, against which relative paths in configs resolve. */
        public Options directory(File directory) {
            this.directory = directory;
            return this;
        }

        /** Whether the engine's own output is copied to this JVM's stdout and stderr (default: yes). */
        public Options echoOutput(boolean echo) {
            this.echoOutput = echo;
            return this;
        }
    }

    private final ClientServer clientServer;
    private final Engine engine;
    private final Diagnostics diagnostics;
    private final int pythonPort;
    private final Process process; // null when connected to an engine started elsewhere
    private final Deque<String> lastErrors; // the engine's latest stderr lines (launched engines only)
    private final Thread shutdownHook = new Thread(this::close, "nas-pattern-gateway-shutdown");
    private volatile boolean closed;
    private volatile boolean closedByShutdown; // by the shutdown hook: the JVM is ending (Ctrl-C, say)

    /** Launches the engine with the default options. */
    public static NASGateway launch() {
        return launch(new Options());
    }

    /** Launches the engine, waits for it to be ready and connects; NASException if it cannot. */
    public static NASGateway launch(Options options) {
        String token = newToken();
        List<String> command = new ArrayList<>();
        command.add(options.python);
        command.addAll(options.pythonOptions);
        command.addAll(Arrays.asList("-m", "nas_pattern.gateway"));
        ProcessBuilder builder = new ProcessBuilder(command).directory(options.directory);
        builder.environment().put(TOKEN_ENV, token);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new NASException("cannot start the Python engine with '" + options.python + "': " + e.getMessage()
                    + " (set " + PYTHON_ENV + " to a python that has nas_pattern installed)", e);
        }
        Deque<String> lastErrors = new ArrayDeque<>();
        try {
            int port = awaitReady(process, options, lastErrors);
            return new NASGateway(port, token, process, lastErrors);
        } catch (RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
    }

    /**
     * Connects to an engine that is already running and listening on {@code pythonPort}, started
     * elsewhere with {@code token} in {@value #TOKEN_ENV}. {@link #close()} then only disconnects:
     * the engine is left running for whoever started it, and closes the controllers this gateway
     * opened (as it does when this JVM ends without closing them). The engine serves until its stdin
     * closes, so keep that open when starting one by hand, e.g.
     * {@code sleep infinity | NAS_PATTERN_TOKEN=$(openssl rand -hex 32) python -m nas_pattern.gateway}
     * (with stdin from /dev/null it exits at once, status 2, saying why). The token needs at least
     * {@value #MIN_TOKEN_LENGTH} characters, {@value #MIN_TOKEN_DISTINCT} of them distinct.
     */
    public static NASGateway connect(int pythonPort, String token) {
        if (token == null || token.length() < MIN_TOKEN_LENGTH) {
            throw new NASException("the auth token must have at least " + MIN_TOKEN_LENGTH + " characters to be "
                    + "secret; got " + (token == null ? "none" : token.length()));
        }
        long distinct = token.chars().distinct().count();
        if (distinct < MIN_TOKEN_DISTINCT) {
            throw new NASException("the auth token must have at least " + MIN_TOKEN_DISTINCT + " distinct characters "
                    + "to be secret; got " + distinct + " (draw it at random, as launch() does: 64 hex digits)");
        }
        return new NASGateway(pythonPort, token, null, new ArrayDeque<>());
    }

    private NASGateway(int pythonPort, String token, Process process, Deque<String> lastErrors) {
        this.pythonPort = pythonPort;
        this.process = process;
        this.lastErrors = lastErrors;
        this.clientServer = builtOnADaemonThread(new ClientServer.ClientServerBuilder()
                .javaPort(0).javaAddress(LOOPBACK)
                .pythonPort(pythonPort).pythonAddress(LOOPBACK)
                .authToken(token));
        numberObjectsFromARandomStart(clientServer);
        Object entryPoint = clientServer.getPythonServerEntryPoint(new Class<?>[] {Engine.class, Diagnostics.class});
        try {
            ((Engine) entryPoint).attach(clientServer.getJavaServer().getListeningPort());
        } catch (Py4JException e) {
            clientServer.shutdown();
            throw new NASException("the Python engine on port " + pythonPort + " refused the connection: "
                    + "wrong or missing auth token (" + firstLine(e.getMessage()) + ")", e);
        }
        this.engine = Bridged.wrap(Engine.class, (Engine) entryPoint, this);
        this.diagnostics = Bridged.wrap(Diagnostics.class, (Diagnostics) entryPoint, this);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * A controller configured from a JSON object whose keys are the CLI flags of
     * {@code python -m nas_pattern.run} without the dashes, e.g.
     * {@code {"network": "cnn", "episodes": 8, "train-limit": 3000, "run-dir": "runs/java"}}.
     * NASException with the engine's one-line message if the config is refused.
     */
    public NASController controller(String configJson) {
        if (configJson == null) {
            throw new NASException("the config must be a JSON object of flags, got null");
        }
        return engine.newController(configJson);
    }

    /**
     * A controller configured from a map of flags (keys without the dashes; values strings or
     * numbers, booleans for a switch such as {@code "deterministic"}), written as JSON here so that
     * no caller quotes JSON by hand.
     */
    public NASController controller(Map<String, ?> config) {
        if (config == null) {
            throw new NASException("the config must be a map of flags, got null");
        }
        return controller(Json.object(config));
    }

    /**
     * The model saved at {@code path} (a run directory, or its best.pt; {@link SearchResult#modelPath()}
     * names it), loaded in the engine to classify images. NASException with one line for a missing or
     * damaged file.
     */
    public FoundModel loadModel(String path) {
        if (path == null) {
            throw new NASException("the model path must not be null");
        }
        return new FoundModel(engine.loadModel(path));
    }

    /** The engine itself, for what a controller does not cover (its version). */
    public Engine engine() {
        return engine;
    }

    /** The bridge's timing calls, for the bridge benchmark. */
    public Diagnostics diagnostics() {
        return diagnostics;
    }

    /**
     * Shuts down an engine this gateway launched, then this end of the bridge, and waits for the
     * engine process to exit. A gateway made by {@link #connect} only disconnects (the engine then
     * closes the controllers it opened, releasing their run directories).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closedByShutdown = Thread.currentThread() == shutdownHook;
        closed = true;
        if (process != null) {
            try {
                engine.shutdown();
            } catch (RuntimeException e) {
                // the engine is gone already: nothing to shut down on its side
            }
        }
        clientServer.shutdown();
        if (process != null) {
            try {
                process.getOutputStream().close(); // the engine also exits when its stdin closes
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroy();
                    if (!process.waitFor(5, TimeUnit.SECONDS)) {
                        process.destroyForcibly().waitFor();
                    }
                }
            } catch (IOException | InterruptedException e) {
                process.destroyForcibly();
            }
        }
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down already
            }
        }
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /** The engine process, or null when connected to an engine started elsewhere. */
    public Process process() {
        return process;
    }

    /** The one-line NASException for a call the bridge could not complete (see Bridged). */
    NASException failure(Py4JException error) {
        if (closed) {
            return new NASException(closedByShutdown
                    ? "this NASGateway was closed as the JVM shut down (Ctrl-C, SIGTERM or System.exit); a search "
                            + "it ran is recorded in its run directory, and {\"resume\": DIR} goes on with it"
                    : "this NASGateway is closed", NASException.Reason.CLOSED, error);
        }
        if (process != null) {
            if (lostConnection(error)) { // the engine may be dying: wait for it before saying how it ended
                try {
                    process.waitFor(2, TimeUnit.SECONDS); // a dead engine's socket closes just before it is reaped
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (!process.isAlive()) {
                return new NASException("the Python engine exited with status " + process.exitValue() + lastWords(),
                        NASException.Reason.ENGINE_EXITED, error);
            }
            return new NASException("the Python engine failed: " + errorLine(error.getMessage()),
                    NASException.Reason.ENGINE_FAILED, error);
        }
        return new NASException("the Python engine on port " + pythonPort + " failed or is gone: "
                + errorLine(error.getMessage()), NASException.Reason.ENGINE_FAILED, error);
    }

    /** Whether a bridge failure is the connection's (the engine may be gone), not a call's. */
    private static boolean lostConnection(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            if (t instanceof Py4JNetworkException || t instanceof IOException || message.contains("is empty")
                    || message.startsWith("Error while")) {
                return true;
            }
        }
        return false;
    }

    private String lastWords() {
        synchronized (lastErrors) {
            return lastErrors.isEmpty() ? " (it wrote nothing on stderr)"
                    : "; its last words on stderr: " + String.join(" / ", lastErrors);
        }
    }

    /**
     * The line of a failed call's message that says what went wrong. For an error the engine raised
     * as something other than a NASException, py4j's message ends with the Python traceback: its last
     * line names the error ("ValueError: ..."), its first says only "Traceback (most recent call last):".
     */
    static String errorLine(String text) {
        String first = firstLine(text);
        if (!first.endsWith(TRACEBACK)) {
            return first;
        }
        String[] lines = text.strip().split("\n");
        return first.substring(0, first.length() - TRACEBACK.length()) + lines[lines.length - 1].strip();
    }

    private static final String TRACEBACK = "Traceback (most recent call last):";

    private static String firstLine(String text) {
        if (text == null) {
            return "";
        }
        String trimmed = text.strip();
        int end = trimmed.indexOf('\n');
        return end < 0 ? trimmed : trimmed.substring(0, end).strip();
    }

    /**
     * Builds the ClientServer on a daemon thread, so that py4j's server thread, which it starts, and
     * the thread of each connection that one accepts, are daemons too (a new thread is a daemon when
     * the thread that makes it is). Otherwise they would keep alive a JVM whose program ended without
     * close(), for good, with its engine; this way it ends, and its shutdown hook closes the gateway.
     */
    private static ClientServer builtOnADaemonThread(ClientServer.ClientServerBuilder builder) {
        CompletableFuture<ClientServer> built = new CompletableFuture<>();
        Thread thread = new Thread(() -> {
            try {
                built.complete(builder.build());
            } catch (RuntimeException | Error e) {
                built.completeExceptionally(e);
            }
        }, "nas-pattern-gateway-start");
        thread.setDaemon(true);
        thread.start();
        try {
            return built.join(); // not interruptible: the server is being started either way
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException) {
                throw (RuntimeException) e.getCause();
            }
            throw (Error) e.getCause();
        }
    }

    /**
     * py4j names the JVM's objects that Python holds o0, o1, ..., in every JVM alike, and the engine
     * tells a JVM by those names which ones it no longer holds. An engine that several JVMs
     * {@link #connect} to in turn can send the last of those notes for one JVM to the next one,
     * which then dropped its own o0 (a search's listener: "Target Object ID does not exist"). So
     * each gateway numbers its objects from a random start among 2^30: the names of two gateways
     * meet only if they start within as many objects of each other (about one chance in 10^5 for
     * 10,000 objects), and a stray note names nothing. py4j has no setting for it, hence reflection.
     */
    private static void numberObjectsFromARandomStart(ClientServer clientServer) {
        try {
            Gateway gateway = ((GatewayServer) clientServer.getJavaServer()).getGateway();
            Field counter = Gateway.class.getDeclaredField("objCounter");
            counter.setAccessible(true);
            ((AtomicInteger) counter.get(gateway)).set(new SecureRandom().nextInt(1 << 30));
        } catch (ReflectiveOperationException | RuntimeException e) { // no such field, not a GatewayServer
            clientServer.shutdown();
            throw new NASException("this py4j (" + Gateway.class.getPackage().getImplementationVersion()
                    + ") does not number its objects as nas-pattern expects: " + e, e);
        }
    }

    private static String newToken() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** Reads the engine's stdout until its readiness line; keeps draining both streams after. */
    private static int awaitReady(Process process, Options options, Deque<String> lastErrors) {
        CompletableFuture<Integer> ready = new CompletableFuture<>();
        drain(process.getErrorStream(), options.echoOutput ? System.err : null, line -> {
            synchronized (lastErrors) {
                if (!line.isBlank()) {
                    lastErrors.addLast(line.strip());
                    while (lastErrors.size() > LAST_WORDS) {
                        lastErrors.removeFirst();
                    }
                }
            }
        });
        drain(process.getInputStream(), options.echoOutput ? System.out : null, line -> {
            if (!ready.isDone() && line.startsWith(READY + " ")) {
                ready.complete(Integer.parseInt(line.substring(READY.length() + 1).trim()));
            }
        });
        process.onExit().thenRun(() -> ready.completeExceptionally(new IllegalStateException("exited")));
        try {
            return ready.get(options.readyTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            String said;
            synchronized (lastErrors) {
                said = lastErrors.isEmpty() ? "" : ": " + lastErrors.peekLast();
            }
            int status = process.exitValue();
            String hint = said.contains("No module named") ? " (" + options.python + " does not have nas_pattern "
                    + "installed: set " + PYTHON_ENV + ", or Options.python(), to one that has, such as the "
                    + "project's .venv/bin/python)" : "";
            throw new NASException("the Python engine exited with status " + status + " before it was ready" + said
                    + hint, NASException.Reason.ENGINE_EXITED, null);
        } catch (TimeoutException e) {
            throw new NASException("the Python engine was not ready after " + options.readyTimeout.getSeconds()
                    + " s (no '" + READY + " <port>' line)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NASException("interrupted while waiting for the Python engine", e);
        }
    }

    private static void drain(InputStream stream, PrintStream echo, Consumer<String> handler) {
        Thread thread = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    handler.accept(line);
                    if (echo != null && !line.startsWith(READY + " ")) {
                        echo.println(line);
                    }
                }
            } catch (IOException e) {
                // the engine closed its end: nothing more to read
            }
        }, "nas-pattern-engine-output");
        thread.setDaemon(true);
        thread.start();
    }
}
