(ns naspattern.example
  "The pattern's sample in Clojure: one episode by hand, then a short search through the bridge."
  (:require [naspattern.core :as nas]))

(defn- episode-line [{:keys [episode architecture accuracy reward status reason cached? evaluation]}]
  (if (= status :ok)
    (format "[%d] %s  %s %.4f  reward %+.4f%s" episode (:describe architecture)
            (if (= evaluation :shared) "shared val" "val") accuracy reward (if cached? "  (cached)" ""))
    (format "[%d] %s  %s: %s" episode (:describe architecture) (name status) reason)))

;; --8<-- [start:clojure]
(defn -main [& args]
  (let [{flags true [episodes run-dir] false} (group-by #(.startsWith ^String % "--") args)
        episodes (Integer/parseInt (or episodes "6"))
        config {:dataset "fashion-mnist" :network "cnn" :children-per-update 2 :epochs 1
                :train-limit 2000 :seed 0
                :weight-sharing (boolean (some #{"--weight-sharing"} flags))
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
          ;; the search's product: the best model, loaded and used on a few test images
          (let [{:keys [images labels]} (nas/test-images 5)
                {:keys [classes probabilities]} (nas/predict (nas/load-model gateway model-path) images)]
            (println "Model               " model-path)
            (doseq [i (range (count images))]
              (println (format "  test image %d: class %d (p = %.2f), label %d" i (classes i)
                               (double (get-in probabilities [i (classes i)])) (labels i)))))))
      (catch clojure.lang.ExceptionInfo e
        (binding [*out* *err*] (println "error:" (ex-message e)))
        (System/exit 1))))
  (shutdown-agents))
;; --8<-- [end:clojure]
