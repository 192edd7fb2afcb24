(ns naspattern.example
  "The pattern's sample in Clojure: one episode by hand, then a short search through the bridge."
  (:require [naspattern.core :as nas]))

(defn- episode-line [{:keys [episode architecture accuracy reward status reason cached? evaluation]}]
  (if (= status :ok)
    (format "[%d] %s  %s %.4f  reward %+.4f%s" episode (:describe architecture)
            (if (= evaluation :shared) "shared val" "val") accuracy reward (if cached? "  (cached)" ""))
    (format "[%d] %s  %s: %s" episode (:describe architecture) (name status) reason)))

(def ^:private usage "usage: clojure -m naspattern.example [episodes] [run-dir] [--weight-sharing]")

(def ^:private help
  (str usage "
  episodes          the children searched after the two trained by hand (default: 6)
  run-dir           where the search is recorded (default: runs/clojure-example-<milliseconds>)
  --weight-sharing  score the children with a supernet's shared weights; the best are then
                    trained from scratch
The engine: $NAS_PATTERN_PYTHON (default: python3), a python with nas_pattern installed."))

(defn- refuse
  "A bad command line: one line on stderr and exit status 2, before any engine starts."
  [why]
  (binding [*out* *err*]
    (println (str "naspattern.example: error: " why " (" usage ")")))
  (System/exit 2))

(defn- options
  "The command line: episodes (the children searched after the two by hand, default 6), the run
  directory, and --weight-sharing."
  [args]
  (when (some #{"--help" "-h"} args)
    (println help)
    (System/exit 0))
  (let [{flags true [episodes run-dir extra] false} (group-by #(.startsWith ^String % "--") args)
        n (when episodes (parse-long episodes))]
    (when-let [flag (first (remove #{"--weight-sharing"} flags))] (refuse (str "unknown flag " flag)))
    (when extra (refuse (str "unexpected argument " extra)))
    (when (and episodes (not (and n (<= 1 n Integer/MAX_VALUE))))
      (refuse (str "episodes must be an integer >= 1, got " episodes)))
    {:episodes (or n 6) :run-dir run-dir :weight-sharing (boolean (some #{"--weight-sharing"} flags))}))

;; --8<-- [start:clojure]
(defn -main [& args]
  (let [{:keys [episodes run-dir weight-sharing]} (options args)
        config {:dataset "fashion-mnist" :network "cnn" :children-per-update 2 :epochs 1
                :train-limit 2000 :seed 0 :weight-sharing weight-sharing
                :run-dir (or run-dir (str "runs/clojure-example-" (System/currentTimeMillis)))}]
    (try
      (with-open [gateway (nas/launch)  ; closed last: the engine
                  controller (nas/controller gateway config)]  ; closed first: the run directory released
        ;; the m = 2 children of one policy update by hand, as in the pattern's sequence diagram
        (dotimes [_ (:children-per-update config)]
          (let [architecture (nas/generate-architecture controller) ; the agent's policy() samples it
                _ (println "Training CNN" (:describe architecture) "...")
                layers (nas/train-network controller architecture)
                metrics (nas/evaluate-network controller)] ; the controller calls the agent's reward(sample, metrics)
            (doseq [layer layers] (println " " layer))
            (println (format "Validation: accuracy %.4f; baseline now (valueFunction) %.4f"
                             (:accuracy metrics) (nas/value-function controller)))))
        (let [{:keys [best test run-dir model-path derived rescored]}
              (nas/search controller episodes (comp println episode-line))]
          (println)
          ;; with weight sharing, the best by shared score were trained from scratch: the product is one of them
          (doseq [{:keys [episode architecture status reason accuracy]} derived]
            (println (format "From scratch [%d] %s  shared again %.4f  %s" episode (:describe architecture)
                             (:accuracy ((into {} rescored) episode))
                             (if (= status :ok) (format "val %.4f" accuracy) (str (name status) ": " reason)))))
          (println "Best architecture   " (get-in best [:architecture :describe]))
          (println (format "Validation accuracy  %.4f   (episode %d)" (:accuracy best) (:episode best)))
          (println (format "Test accuracy        %.4f" (:accuracy test)))
          (println "Record              " run-dir)
          ;; the search's product: the best model, loaded and used on a few test images (closed after)
          (with-open [model (nas/load-model gateway model-path)]
            (let [{:keys [images labels]} (nas/test-images 5)
                  {:keys [classes names probabilities]} (nas/predict model images)]
              (println "Model               " model-path)
              (doseq [i (range (count images))]
                (println (format "  test image %d: %s (p = %.2f), label %s" i (names i)
                                 (double (get-in probabilities [i (classes i)]))
                                 ((nas/class-names model) (labels i)))))))))
      (catch clojure.lang.ExceptionInfo e
        (binding [*out* *err*] (println "error:" (ex-message e)))
        (System/exit 1))))
  (shutdown-agents))
;; --8<-- [end:clojure]
