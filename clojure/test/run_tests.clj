;; Runs the clojure.test suite and ends with the line "N passed, N failed", counting assertions
;; (clojure.test counts tests and assertions, and failures only as assertions).
(require '[clojure.test :as t] 'naspattern.core-test)
(let [{:keys [test pass fail error]} (t/run-tests 'naspattern.core-test)]
  (println (str pass " passed, " (+ fail error) " failed (assertions, in " test " tests)"))
  (shutdown-agents)
  (System/exit (if (zero? (+ fail error)) 0 1)))
