/**
 * Neural Architecture Search with Reinforcement Learning from the JVM: a client of the Python
 * engine {@code nas_pattern}, which samples, trains and scores every child. Nothing of the search
 * runs on the JVM.
 *
 * <p>{@link naspattern.NASGateway#launch()} starts the engine ({@code python -m nas_pattern.gateway},
 * the Python that the environment variable {@code NAS_PATTERN_PYTHON} names) and connects to it;
 * {@link naspattern.NASGateway#controller(java.util.Map)} opens a {@link naspattern.NASController}
 * with the flags of {@code python -m nas_pattern.run} as its config. Its
 * {@link naspattern.NASController#search(int, naspattern.SearchListener) search} returns a
 * {@link naspattern.SearchResult}, whose {@code modelPath()} {@link naspattern.NASGateway#loadModel}
 * turns into a {@link naspattern.FoundModel} that classifies images; {@link naspattern.Npz} writes
 * images of one's own as a dataset to search ({@code "dataset": "npz"}). The participants of the
 * pattern cross the bridge as {@link naspattern.RLAgent} and {@link naspattern.Network}. Every
 * failure is a {@link naspattern.NASException} of one line whose
 * {@link naspattern.NASException#reason() reason()} says what happened.
 *
 * <p>The repository's {@code jvm/examples/NASExample.java} is a whole program; the pattern guide
 * ({@code docs/}, chapters 6 and 8) explains the bridge.
 */
package naspattern;
