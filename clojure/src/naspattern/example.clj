(ns naspattern.example
  "The pattern's sample in Clojure: one episode by hand, then a short search through the bridge."
  (:require [naspattern.core :as nas]))

(defn- episode-line [{:keys [episode architecture accuracy reward status reason cached?]}]
  (if (= status :ok)
    (format "[%d] %s  val %.4f  reward %+.4f%s" episode (:describe architecture) accuracy reward
            (if cached? "  (cached)" ""))
    (format "[%d] %s  %s: %s" episode (:describe architecture) (name status) reason)))

;; --8<-- [start:clojure]
(defn -main [& [episodes run-dir]]
  (let [episodes (Integer/parseInt (or episodes "6"))
        config {:dataset "fashion-mnist" :network "cnn" :children-per-update 2 :epochs 1
                :train-limit 2000 :seed 0
                :run-dir (or run-dir (str "runs/clojure-example-" (System/currentTimeMillis)))}]
    (try
      (with-open [gateway (nas/launch)]
        (let [controller (nas/controller gateway config)
              {:keys [architecture layers metrics baseline reward]} (nas/step controller)]
          (println "Trained CNN" (:describe architecture))
          (doseq [layer layers] (println " " layer))
          (println (format "Validation accuracy %.4f; baseline (valueFunction) %.4f, reward %+.4f"
                           (:accuracy metrics) baseline reward))
          (println "updatePolicy():" (nas/update-policy controller))
          (let [{:keys [best test]} (nas/search controller episodes (comp println episode-line))]
            (println)
            (println "Best architecture   " (get-in best [:architecture :describe]))
            (println (format "Validation accuracy  %.4f   (episode %d)" (:accuracy best) (:episode best)))
            (println (format "Test accuracy        %.4f" (:accuracy test)))
            (println "Record              " (nas/run-dir controller)))))
      (catch clojure.lang.ExceptionInfo e
        (binding [*out* *err*] (println "error:" (ex-message e)))
        (System/exit 1))))
  (shutdown-agents))
;; --8<-- [end:clojure]
