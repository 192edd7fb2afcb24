;; Runs the clojure.test suite and ends with the line "N passed, N failed".
(require '[clojure.test :as t] 'naspattern.core-test)
(let [{:keys [test fail error]} (t/run-tests 'naspattern.core-test)]
  (println (str (- test fail error) " passed, " (+ fail error) " failed"))
  (shutdown-agents)
  (System/exit (if (zero? (+ fail error)) 0 1)))
