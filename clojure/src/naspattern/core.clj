(ns naspattern.core
  "The Clojure front-end: plain maps in and out around the Java client of the py4j bridge.
  Every architecture is sampled by the Python RLAgent; every accuracy comes from a PyTorch child."
  (:require [clojure.data.json :as json])
  (:import (naspattern Architecture Episode Metrics NASController NASException NASGateway
                       NASGateway$Options RLAgent SearchListener SearchResult)))

(defn- refused
  "A NASException from the engine as ex-info, with :reason ::refused and the engine's one line."
  [^NASException e]
  (ex-info (.getMessage e) {:reason ::refused} e))

(defmacro ^:private engine-call [& body]
  `(try ~@body (catch NASException e# (throw (refused e#)))))

(defn launch
  "Launches the Python engine and connects to it. Options: :python (the executable with
  nas_pattern installed; default $NAS_PATTERN_PYTHON or python3), :echo? (copy its output)."
  (^NASGateway [] (launch {}))
  (^NASGateway [{:keys [python echo?] :or {echo? true}}]
   (let [options (cond-> (.echoOutput (NASGateway$Options.) (boolean echo?))
                   python (.python python))]
     (engine-call (NASGateway/launch options)))))

(defn controller
  "A controller configured from a map whose keys are the CLI flags of nas_pattern.run,
  e.g. {:network \"cnn\" :train-limit 2000 :run-dir \"runs/clj\"}."
  ^NASController [^NASGateway gateway config]
  (engine-call (.controller gateway (json/write-str config))))

(defn architecture->map [^Architecture a]
  {:describe (.describe a) :layers (get (json/read-str (.json a) :key-fn keyword) :layers)})

(defn metrics->map [^Metrics m]
  (when m
    {:accuracy (.accuracy m) :loss (.loss m) :params (.params m) :train-seconds (.trainSeconds m)}))

(defn episode->map [^Episode e]
  {:episode (.episode e)
   :architecture (architecture->map (.architecture e))
   :metrics (metrics->map (.metrics e))
   :accuracy (.accuracy e)
   :reward (.reward e)
   :baseline (.baseline e)
   :cached? (.cached e)
   :seconds (.seconds e)
   :status (keyword (.status e))
   :reason (.reason e)})

(defn result->map [^SearchResult r]
  {:best (episode->map (.best r))
   :test (metrics->map (.test r))
   :episodes (.episodes r)
   :stop-reason (keyword (.stopReason r))
   :seconds (.seconds r)})

(defn step
  "One episode by hand, following the pattern's sequence diagram: the agent samples, the
  controller trains and evaluates the child, the agent turns its metrics into a reward."
  [^NASController controller]
  (engine-call
   (let [^RLAgent agent (.getAgent controller)
         architecture (.generateArchitecture controller)
         child (.trainNetwork controller architecture)
         metrics (.evaluateNetwork controller)
         baseline (.valueFunction agent)]
     {:architecture (architecture->map architecture)
      :layers (vec (.layers child))
      :metrics (metrics->map metrics)
      :baseline baseline
      :reward (.reward agent metrics)})))

(defn update-policy
  "One REINFORCE step over the rewarded samples; its statistics as a map."
  [^NASController controller]
  (engine-call (json/read-str (.updatePolicy (.getAgent controller)) :key-fn keyword)))

(defn search
  "Runs `episodes` children; calls (on-episode episode-map) after each, on this thread, and stops
  early once (stop? episode-map) is true. Returns the result as a map."
  ([controller episodes on-episode] (search controller episodes on-episode (constantly false)))
  ([^NASController controller episodes on-episode stop?]
   (let [last-seen (atom nil)
         listener (reify SearchListener
                    (onEpisode [_ episode]
                      (let [e (episode->map episode)]
                        (reset! last-seen e)
                        (on-episode e)))
                    (shouldStop [_] (boolean (stop? @last-seen))))]
     (engine-call (result->map (.search controller (int episodes) listener))))))

(defn run-dir [^NASController controller] (.runDir controller))
