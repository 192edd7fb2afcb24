import scala.collection.JavaConverters._

import java.nio.file.Paths

import naspattern.{Episode, Idx, NASException, NASGateway, SearchListener, SearchResult}

/** The pattern's sample in Scala, driving the Python engine through the py4j bridge. */
object NASExample {

  /** A search's settings; toMap gives them the keys of the CLI flags of nas_pattern.run. */
  case class Config(
      dataset: String = "fashion-mnist",
      network: String = "cnn",
      childrenPerUpdate: Int = 2, // architectures per policy update
      epochs: Int = 1, // training passes per child
      trainLimit: Int = 2000, // training images per child
      seed: Int = 0,
      weightSharing: Boolean = false, // score children with a supernet's shared weights (ENAS)
      runDir: String = s"runs/scala-example-${System.currentTimeMillis}") {

    /** The flags as the gateway takes them (it writes the JSON). */
    def toMap: java.util.Map[String, Any] =
      Map[String, Any]("dataset" -> dataset, "network" -> network, "children-per-update" -> childrenPerUpdate,
        "epochs" -> epochs, "train-limit" -> trainLimit, "seed" -> seed, "weight-sharing" -> weightSharing,
        "run-dir" -> runDir).asJava
  }

  /** Runs `episodes` children, handing each to `report` as it is evaluated. */
  def search(gateway: NASGateway, config: Config, episodes: Int)(report: Episode => Unit): SearchResult = {
    val controller = gateway.controller(config.toMap)
    try controller.search(episodes, new SearchListener {
      override def onEpisode(episode: Episode): Unit = report(episode)
    })
    finally controller.close() // the run directory released: another controller may resume it
  }

  private val Usage = "usage: NASExample [episodes] [run-dir] [--weight-sharing]"
  private val Help = Usage + """
    |  episodes          the children searched after the two trained by hand (default: 6)
    |  run-dir           where the search is recorded (default: runs/scala-example-<milliseconds>)
    |  --weight-sharing  score the children with a supernet's shared weights; the best are then
    |                    trained from scratch
    |The engine: $NAS_PATTERN_PYTHON (default: python3), a python with nas_pattern installed.""".stripMargin

  /** A bad command line: one line on stderr and exit status 2, before any engine starts. */
  private def refuse(why: String): Nothing = {
    System.err.println(s"NASExample: error: $why ($Usage)")
    sys.exit(2)
  }

  def main(args: Array[String]): Unit = {
    if (args.contains("--help") || args.contains("-h")) {
      println(Help)
      return
    }
    val (flags, positional) = args.partition(_.startsWith("--"))
    flags.find(_ != "--weight-sharing").foreach(flag => refuse(s"unknown flag $flag"))
    positional.lift(2).foreach(extra => refuse(s"unexpected argument $extra"))
    val episodes = positional.headOption.fold(6) { text => // the children searched after the two by hand
      scala.util.Try(text.toInt).toOption.filter(_ >= 1)
        .getOrElse(refuse(s"episodes must be an integer >= 1, got $text"))
    }
    val config = positional.lift(1).fold(Config())(dir => Config(runDir = dir))
      .copy(weightSharing = flags.contains("--weight-sharing"))
    try run(episodes, config)
    catch {
      case e: NASException => // the engine's one line: a bad config, a missing python, a wrong token
        System.err.println(s"error: ${e.getMessage}")
        sys.exit(1)
    }
  }

  // --8<-- [start:scala]
  private def run(episodes: Int, config: Config): Unit = {
    val gateway = NASGateway.launch()
    try {
      println(s"Engine: ${gateway.engine.version}")
      val controller = gateway.controller(config.toMap)
      val agent = controller.getAgent

      // The m = 2 children of one policy update by hand, as in the pattern's sequence diagram.
      for (_ <- 1 to config.childrenPerUpdate) {
        val architecture = controller.generateArchitecture()
        println(s"Training CNN ${architecture.describe} ...")
        controller.trainNetwork(architecture).layers.foreach(layer => println(s"  $layer"))
        val metrics = controller.evaluateNetwork() // the controller calls agent.reward(sample, metrics)
        println(f"Validation: $metrics; baseline now (valueFunction) ${agent.valueFunction}%.4f")
      }

      // Then the whole loop, run by the engine, each child reported back on this thread.
      val result = controller.search(episodes, new SearchListener {
        override def onEpisode(episode: Episode): Unit = println(episode)
      })
      println()
      // With weight sharing, the best by shared score were trained from scratch: the product is one of them.
      for (e <- result.derived.asScala) {
        val scratch = if (e.status == "ok") f"val ${e.accuracy}%.4f" else s"${e.status}: ${e.reason}"
        val again = result.rescored.get(e.episode).accuracy
        println(f"From scratch [${e.episode}] ${e.architecture}  shared again $again%.4f  $scratch")
      }
      println(s"Best architecture    ${result.best.architecture}")
      println(f"Validation accuracy  ${result.best.accuracy}%.4f   (episode ${result.best.episode})")
      println(f"Test accuracy        ${result.test.accuracy}%.4f")
      println(s"Record               ${result.runDir}")

      // The search's product: the best model, loaded and used on a few test images (closed after).
      val model = gateway.loadModel(result.modelPath)
      try {
        val images = Idx.images(Paths.get(Idx.FASHION_MNIST, "t10k-images-idx3-ubyte.gz"), 5)
        val labels = Idx.labels(Paths.get(Idx.FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"), 5)
        val prediction = model.predict(images)
        println(s"Model                ${result.modelPath}")
        for (i <- images.indices) {
          val predicted = prediction.classes()(i)
          val (name, label) = (model.classNames.get(predicted), model.classNames.get(labels(i)))
          println(f"  test image $i: $name (p = ${prediction.probabilities()(i)(predicted)}%.2f), label $label")
        }
      } finally model.close()
    } finally gateway.close()
  }
  // --8<-- [end:scala]
}
