import java.nio.file.{Files, Path}

import naspattern.{Episode, Idx, Metrics, NASException, NASGateway}
import org.junit.Assert.{assertEquals, assertTrue}
import org.junit.rules.TemporaryFolder
import org.junit.{Rule, Test}

/** One short search through the bridge, driven by the Scala example's code. */
class NASExampleTest {
  private val temporary = new TemporaryFolder // each test's run directory, deleted after it
  @Rule def folder: TemporaryFolder = temporary

  @Test def aShortSearchReportsEveryChild(): Unit = {
    val dir: Path = folder.getRoot.toPath
    val config = NASExample.Config(trainLimit = 500, runDir = dir.resolve("run").toString)
    val gateway = NASGateway.launch(new NASGateway.Options().echoOutput(false))
    try {
      val seen = collection.mutable.Buffer[Episode]()
      val result = NASExample.search(gateway, config, episodes = 3)(seen += _)
      assertEquals(Seq(1, 2, 3), seen.map(_.episode))
      assertEquals(seen.map(_.accuracy).max, result.best.accuracy, 1e-12)
      assertTrue(result.test.accuracy > 0.2)
      assertEquals(3, Files.readAllLines(dir.resolve("run/episodes.jsonl")).size)
      val prediction = gateway.loadModel(result.modelPath).predict(
        Idx.images(java.nio.file.Paths.get(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), 50))
      val labels = Idx.labels(java.nio.file.Paths.get(Idx.FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"), 50)
      val correct = prediction.classes.zip(labels).count { case (p, l) => p == l }
      assertTrue(s"$correct of 50 test images right", correct > 10) // better than chance (5 of 50)
    } finally gateway.close()
  }

  @Test def aRewardNamesTheSampleItRewards(): Unit = {
    val dir: Path = folder.getRoot.toPath
    val gateway = NASGateway.launch(new NASGateway.Options().echoOutput(false))
    try {
      val controller = gateway.controller(s"""{"train-limit": 300, "device": "cpu", "run-dir": "${dir.resolve("run")}"}""")
      val agent = controller.getAgent
      val first = agent.policy()
      val second = agent.policy()
      val metrics = new Metrics(0.5, 1.0, 10, 0.1)
      agent.reward(second, metrics) // out of order: each reward reaches its own sample
      agent.reward(first, metrics)
      val twice = try { agent.reward(first, metrics); "accepted" } catch { case e: NASException => e.getMessage }
      assertTrue(twice, twice.contains("it was rewarded already"))
    } finally gateway.close()
  }
}
