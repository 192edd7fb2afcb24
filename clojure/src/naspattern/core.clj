(ns naspattern.core
  "The Clojure front-end: plain maps in and out around the Java client of the py4j bridge (the
  bridge's values become maps through clojure.datafy).
  Every architecture is sampled by the Python RLAgent; every accuracy comes from a PyTorch child."
  (:require [clojure.core.protocols :as p]
            [clojure.data.json :as json]
            [clojure.datafy :refer [datafy]]
            [clojure.string :as string])
  (:import (naspattern Architecture Episode FoundModel Idx ImageFiles Metrics NASController NASException NASException$Reason NASGateway
                       NASGateway$Options Npz Prediction RLAgent Sample SearchListener SearchResult)
           (java.nio.file Paths)))

(def ^:private reasons
  "NASException's reason as the :reason of ex-info."
  {NASException$Reason/REFUSED ::refused
   NASException$Reason/ENGINE_EXITED ::engine-exited
   NASException$Reason/ENGINE_FAILED ::engine-failed
   NASException$Reason/CLOSED ::closed})

(defn- refused
  "A NASException as ex-info with the engine's one line and a :reason taken from the exception
  itself: ::refused (the input), ::engine-exited (the engine died; the line says with which
  status), ::engine-failed (the bridge failed a call) or ::closed (the gateway was closed)."
  [^NASException e]
  (ex-info (.getMessage e) {:reason (reasons (.reason e))} e))

(defmacro ^:private engine-call [& body]
  `(try ~@body (catch NASException e# (throw (refused e#)))))

(defn launch
  "Launches the Python engine and connects to it. Options: :python (the executable with
  nas_pattern installed; default $NAS_PATTERN_PYTHON or python3), :echo? (copy its output),
  :directory (its working directory, against which relative run directories resolve) and
  :ready-timeout (seconds to wait for it to start; importing torch takes a few)."
  (^NASGateway [] (launch {}))
  (^NASGateway [{:keys [python echo? directory ready-timeout] :or {echo? true}}]
   (let [options (cond-> (.echoOutput (NASGateway$Options.) (boolean echo?))
                   python (.python python)
                   directory (.directory (java.io.File. (str directory)))
                   ready-timeout (.readyTimeout (java.time.Duration/ofMillis (long (* 1000 ready-timeout)))))]
     (engine-call (NASGateway/launch options)))))

(defn connect
  "Connects to an engine started elsewhere: `python -m nas_pattern.gateway` listening on `port`,
  started with `token` in NAS_PATTERN_TOKEN and its stdin kept open. Closing this gateway only
  disconnects: the engine lives on, and closes the controllers this gateway opened (releasing
  their run directories), as it does when this JVM ends."
  ^NASGateway [port token]
  (engine-call (NASGateway/connect (int port) token)))

(defn controller
  "A controller configured from a map whose keys are the CLI flags of nas_pattern.run,
  e.g. {:network \"cnn\" :train-limit 2000 :run-dir \"runs/clj\"}. It holds its run directory until
  it is closed (with-open), or its gateway is."
  ^NASController [^NASGateway gateway config]
  (engine-call (.controller gateway (json/write-str config))))

(defn- kebab
  "A JSON key as a Clojure keyword: dropout_rate -> :dropout-rate."
  [k]
  (keyword (string/replace k "_" "-")))

;; The bridge's values as Clojure data: (datafy x) of an Architecture, Metrics, Episode, Sample,
;; SearchResult or Prediction is a plain map (clojure.datafy's protocol, extended to the Java types).
(extend-protocol p/Datafiable
  Architecture
  (datafy [a]
    ;; under :architecture the engine's own value, which train-network takes back
    {:describe (.describe a) :layers (get (json/read-str (.json a) :key-fn kebab) :layers) :architecture a})

  Metrics
  (datafy [m]
    {:accuracy (.accuracy m) :loss (.loss m) :params (.params m) :train-seconds (.trainSeconds m)})

  Episode
  (datafy [e]
    {:episode (.episode e)
     :architecture (datafy (.architecture e))
     :metrics (datafy (.metrics e))
     :accuracy (.accuracy e)
     :reward (.reward e)
     :baseline (.baseline e)
     :cached? (.cached e)
     :seconds (.seconds e)
     :status (keyword (.status e))
     :reason (.reason e)
     :evaluation (keyword (.evaluation e))})

  SearchResult
  (datafy [r]
    {:best (datafy (.best r))
     :test (datafy (.test r))
     :episodes (.episodes r)
     :stop-reason (keyword (.stopReason r))
     :seconds (.seconds r)
     ;; with :weight-sharing, the derivation's wall time, which :seconds leaves out (0.0 otherwise)
     :derive-seconds (.deriveSeconds r)
     :recorded-before (.recordedBefore r)
     ;; with :weight-sharing, the candidates trained from scratch, and the scores with the final
     ;; shared weights that chose them: [episode metrics] pairs, best first (empty otherwise)
     :derived (mapv datafy (.derived r))
     :rescored (mapv (fn [[episode metrics]] [episode (datafy metrics)]) (.rescored r))
     :run-dir (.runDir r)
     :model-path (.modelPath r)})

  Sample
  (datafy [s]
    ;; under :sample the handle itself, which reward takes back
    {:number (.number s) :architecture (datafy (.architecture s)) :sample s})

  Prediction
  (datafy [p]
    {:classes (vec (.classes p)) :probabilities (mapv vec (.probabilities p))})

  ImageFiles
  (datafy [i]
    {:files (vec (.files i)) :pixels (mapv vec (.pixels i)) :notes (vec (.notes i))}))

(defn generate-architecture
  "The pattern's first step: the agent samples the next child's architecture, as a map
  (datafy of the Architecture) to hand to train-network."
  [^NASController controller]
  (datafy (engine-call (.generateArchitecture controller))))

(defn train-network
  "The second step: the child for that architecture (a map from generate-architecture), built and
  trained; its layers, one per line."
  [^NASController controller {:keys [architecture]}]
  (engine-call (vec (.layers (.trainNetwork controller ^Architecture architecture)))))

(defn evaluate-network
  "The third step: the child's validation metrics as a map; the controller rewards the agent with
  them (and updates the policy after every m children), recording the child as a search does."
  [^NASController controller]
  (engine-call (datafy (.evaluateNetwork controller))))

(defn policy
  "Asks the controller's agent for a sample of its own, beside the controller's children (ask and
  tell): {:number n :architecture {...} :sample the-handle}; give the map to reward."
  [^NASController controller]
  (datafy (engine-call (.policy ^RLAgent (.getAgent controller)))))

(defn reward
  "Rewards a sample from policy with a metrics map ({:accuracy :loss :params :train-seconds});
  returns the reward. Each sample once, before the next policy update, and each key a number:
  otherwise ex-info, ::refused."
  [^NASController controller {:keys [sample]} {:keys [accuracy loss params train-seconds] :as metrics}]
  (when-let [missing (seq (remove #(number? (get metrics %)) [:accuracy :loss :params :train-seconds]))]
    (throw (ex-info (str "the metrics lack a number for " (string/join " " missing) " (reward takes :accuracy "
                         ":loss :params :train-seconds), got " (pr-str metrics))
                    {:reason ::refused})))
  (engine-call (.reward ^RLAgent (.getAgent controller) ^Sample sample
                        (Metrics. (double accuracy) (double loss) (long params) (double train-seconds)))))

(defn value-function
  "The agent's baseline: what it expects of the next child (NaN before the first reward)."
  [^NASController controller]
  (engine-call (.valueFunction ^RLAgent (.getAgent controller))))

(defn step
  "One child by hand, the three steps in a row: {:architecture :layers :metrics :baseline}."
  [^NASController controller]
  (let [architecture (generate-architecture controller)
        layers (train-network controller architecture)
        metrics (evaluate-network controller)]
    {:architecture architecture
     :layers layers
     :metrics metrics
     :baseline (value-function controller)}))

(defn search
  "Runs `episodes` children; calls (on-episode episode-map) after each, on this thread, and stops
  early once (stop? episode-map) is true. Returns the result as a map. The search's end, which may
  take minutes, is heard through `ends`: (:on-derived episode-map) after each architecture the
  derivation trains from scratch (weight sharing), (:on-final-epoch epoch epochs loss) after each
  epoch of the final retraining (final-epochs)."
  ([controller episodes on-episode] (search controller episodes on-episode (constantly false)))
  ([controller episodes on-episode stop?] (search controller episodes on-episode stop? {}))
  ([^NASController controller episodes on-episode stop? {:keys [on-derived on-final-epoch]}]
   (let [last-seen (atom nil)
         listener (reify SearchListener
                    (onEpisode [_ episode]
                      (let [e (datafy episode)]
                        (reset! last-seen e)
                        (on-episode e)))
                    (shouldStop [_] (boolean (stop? @last-seen)))
                    (onDerived [_ episode]
                      (when on-derived (on-derived (datafy episode))))
                    (onFinalEpoch [_ epoch epochs loss]
                      (when on-final-epoch (on-final-epoch epoch epochs loss))))]
     (engine-call (datafy (.search controller (int episodes) listener))))))

(defn run-dir [^NASController controller] (.runDir controller))

(defn load-model
  "The model a search saved (its :model-path, or a run directory), ready for predict. The engine
  holds its weights until it is closed: (with-open [model (load-model gateway path)] ...)."
  ^FoundModel [^NASGateway gateway path]
  (engine-call (.loadModel gateway (str path))))

(defn class-names
  "What each class means, by class: [\"T-shirt/top\" \"Trouser\" ...] for Fashion-MNIST."
  [^FoundModel model]
  (vec (.classNames model)))

(defn predict
  "Classifies images, each a sequence of raw pixel values (0-255, row by row); returns
  {:classes [...] :names [...] :probabilities [[...] ...]}, one entry per image (:names: the
  classes' names)."
  [^FoundModel model images]
  (let [{:keys [classes] :as prediction} (datafy (engine-call (.predict model (into-array (map float-array images)))))]
    (assoc prediction :names (mapv (class-names model) classes))))

(defn read-images
  "Image files (PNG, JPEG, ...; a folder: the image files in it, in name order) as the model's
  input, made as its dataset's images were (trimmed to the thing in them, scaled to fit, ...):
  {:files [...] :pixels [...] :notes [...]}, :pixels for predict, :notes saying what was done to
  each file. With :invert? true they are negated first (a dark thing on a light ground)."
  [^FoundModel model paths & {:keys [invert?]}]
  (datafy (engine-call (.readImages model ^java.util.List (mapv str paths) (boolean invert?)))))

(defn test-images
  "The first n Fashion-MNIST test images and their labels, from Debian's dataset files:
  {:images [...] :labels [...]}."
  [n]
  {:images (mapv vec (Idx/images (Paths/get Idx/FASHION_MNIST (into-array ["t10k-images-idx3-ubyte.gz"])) n))
   :labels (vec (Idx/labels (Paths/get Idx/FASHION_MNIST (into-array ["t10k-labels-idx1-ubyte.gz"])) n))})

(defn write-npz
  "Writes images of one's own as the file a controller of {:dataset \"npz\" :data-dir file}
  searches: :train and :test each {:images [...] :labels [...]}, the images as predict takes them
  (raw pixel values 0-255, channel by channel, row by row), :shape [channels height width] and,
  optionally, :val (a validation split of one's own, the same kind of map; without it a fifth of
  :train is held out) and :class-names, the name of each label. Returns the file's path; ex-info
  of one line, with nothing written, for an image of another size, a value not a whole 0-255 or
  labels that do not match the images."
  [file {:keys [shape train val test class-names]}]
  (let [[channels height width] shape
        images (fn [split] (when split (into-array (map float-array (:images split)))))
        labels (fn [split] (when split (int-array (:labels split))))]
    (str (engine-call (Npz/write (Paths/get (str file) (make-array String 0)) (int channels) (int height)
                                 (int width) (images train) (labels train) (images val) (labels val)
                                 (images test) (labels test) ^java.util.List (vec class-names))))))
