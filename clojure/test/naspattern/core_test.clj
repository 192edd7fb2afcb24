(ns naspattern.core-test
  (:require [clojure.java.io :as io]
            [clojure.string :as string]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [naspattern.core :as nas]))

(def ^:dynamic *gateway* nil)

(def ^:private temp-dirs (atom [])) ; every directory temp-run-dir made, deleted after the tests

(defn- delete-tree [^java.io.File dir]
  (doseq [^java.io.File f (reverse (file-seq dir))] ; a directory's files before the directory
    (.delete f)))

(use-fixtures :once
  (fn [tests]
    (try
      (with-open [gateway (nas/launch {:echo? false})]
        (binding [*gateway* gateway] (tests)))
      (finally (run! delete-tree @temp-dirs)))))

(defn- temp-run-dir []
  (let [dir (.toFile (java.nio.file.Files/createTempDirectory
                      "nas-clj" (make-array java.nio.file.attribute.FileAttribute 0)))]
    (swap! temp-dirs conj dir)
    (str dir "/run")))

(defn- small-config []
  {:network "cnn" :train-limit 500 :children-per-update 2 :device "cpu" :run-dir (temp-run-dir)})

(deftest a-short-search-reports-every-child
  (let [controller (nas/controller *gateway* (small-config))
        seen (atom [])
        result (nas/search controller 3 #(swap! seen conj %))]
    (is (= [1 2 3] (map :episode @seen)))
    (is (= (apply max (map :accuracy @seen)) (get-in result [:best :accuracy])))
    (is (> (get-in result [:test :accuracy]) 0.2))
    (is (= :budget (:stop-reason result)))
    (is (= 3 (count (line-seq (io/reader (io/file (nas/run-dir controller) "episodes.jsonl"))))))))

(deftest a-reward-names-the-sample-it-rewards
  (let [controller (nas/controller *gateway* (small-config))
        mine (nas/policy controller)
        child (nas/step controller)
        made-up {:accuracy 0.5 :loss 1.0 :params 10 :train-seconds 0.1}]
    (is (= 1 (:number mine)))
    (is (= (get-in child [:metrics :accuracy]) (:baseline child))) ; the controller rewarded its own child
    (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/reward controller mine {:accuracy 0.5 :params "10"})))]
      (is (= ::nas/refused (:reason (ex-data e)))) ; not a NullPointerException: which keys, in one line
      (is (= (str "the metrics lack a number for :loss :params :train-seconds (reward takes :accuracy :loss :params "
                  ":train-seconds), got {:accuracy 0.5, :params \"10\"}")
             (ex-message e))))
    (is (number? (nas/reward controller mine made-up))) ; still open: the refusal took nothing
    (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/reward controller mine made-up)))]
      (is (= ::nas/refused (:reason (ex-data e))))
      (is (string/includes? (ex-message e) "it was rewarded already")))))

(deftest the-listener-can-stop-the-search
  (let [controller (nas/controller *gateway* (small-config))
        result (nas/search controller 10 (fn [_]) #(= 2 (:episode %)))]
    (is (= :stopped (:stop-reason result)))
    (is (= 2 (:episodes result)))))

(deftest a-bad-config-is-refused-with-one-line
  (testing "unknown dataset"
    (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/controller *gateway* {:dataset "nope"})))]
      (is (= ::nas/refused (:reason (ex-data e))))
      (is (string/includes? (ex-message e) "invalid choice: 'nope'"))
      (is (not (string/includes? (ex-message e) "\n")))))
  (testing "episodes < 1"
    (is (thrown-with-msg? clojure.lang.ExceptionInfo #"must be >= 1, got 0"
                          (nas/controller *gateway* {:episodes 0})))))

(deftest steps-by-hand-are-recorded-and-results-are-kebab-case
  (let [controller (nas/controller *gateway* (small-config))
        {:keys [architecture metrics baseline]} (nas/step controller)]
    (is (every? #(contains? % :dropout-rate) (:layers architecture)))
    (is (== (:accuracy metrics) baseline)) ; the controller rewarded the agent: the first reward starts the baseline
    (nas/step controller)
    (is (= 2 (count (line-seq (io/reader (io/file (nas/run-dir controller) "episodes.jsonl"))))))
    (let [result (nas/search controller 1 (fn [_]))]
      (is (= 3 (:episodes result)))
      (is (= 2 (:recorded-before result))) ; the two steps by hand
      (is (= [[] []] ((juxt :derived :rescored) result))) ; no weight sharing
      (is (= (.getAbsolutePath (io/file (nas/run-dir controller))) (:run-dir result))))))

(defn- same-episodes?
  "Whether two lists of episode maps are the same episodes. = alone says no when a baseline is
  ##NaN (the first child's: no estimate yet), as NaN equals nothing, itself included."
  [a b]
  (let [comparable #(update % :baseline (fn [x] (if (and (double? x) (Double/isNaN x)) ::no-estimate x)))]
    (= (map comparable a) (map comparable b))))

(deftest a-weight-sharing-result-names-its-derived-candidates-and-their-scores
  (let [controller (nas/controller *gateway* (merge (small-config) {:weight-sharing true :shared-steps 3
                                                                    :shared-val-images 100 :derive-top 2}))
        heard (atom [])
        {:keys [best derived rescored derive-seconds]}
        (nas/search controller 6 (fn [_]) (constantly false) {:on-derived #(swap! heard conj %)})]
    (is (= 2 (count derived)))
    (is (same-episodes? derived @heard)) ; each as it was trained from scratch
    (is (pos? derive-seconds))
    (is (every? #(= :standalone (:evaluation %)) derived))
    (is (some #(same-episodes? [best] [%]) derived))
    (is (= (map :episode derived) (map first (take 2 rescored)))) ; trained in the order of these scores
    (is (apply >= (map (comp :accuracy second) rescored))))) ; best first

(deftest engine-objects-print-and-compare
  (let [controller (nas/controller *gateway* (small-config))]
    (is (string/starts-with? (str controller) "NASController"))
    (is (= (.getAgent controller) (.getAgent controller)))
    (is (= 1 (count (set [(.getAgent controller) (.getAgent controller)]))))))

(deftest launch-takes-a-directory-and-a-ready-timeout
  (let [dir (.getParentFile (io/file (temp-run-dir)))]
    (with-open [gateway (nas/launch {:echo? false :directory dir :ready-timeout 120})]
      (let [controller (nas/controller gateway {:train-limit 200 :run-dir "relative-run"})]
        (is (= (.getCanonicalPath (io/file dir "relative-run"))
               (.getCanonicalPath (io/file dir (nas/run-dir controller)))))))))

(deftest a-dead-engine-is-ex-info-saying-it-exited
  (let [gateway (nas/launch {:echo? false})]
    (try
      (let [controller (nas/controller gateway (small-config))]
        (.waitFor (.destroyForcibly (.process gateway)))
        (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/step controller)))]
          (is (= ::nas/engine-exited (:reason (ex-data e))))
          (is (string/includes? (ex-message e) "the Python engine exited with status"))))
      (finally (.close gateway)))))

(deftest images-of-ones-own-written-as-an-npz-file-are-searched
  (let [{:keys [images labels]} (nas/test-images 300)
        split (fn [from to] {:images (subvec images from to) :labels (subvec labels from to)})
        names ["T-shirt/top" "Trouser" "Pullover" "Dress" "Coat" "Sandal" "Shirt" "Sneaker" "Bag" "Ankle boot"]
        folder (.getParentFile (io/file (temp-run-dir)))
        file (nas/write-npz (io/file folder "mine.npz")
                            {:shape [1 28 28] :train (split 0 250) :test (split 250 300) :class-names names})
        controller (nas/controller *gateway* (assoc (small-config) :dataset "npz" :data-dir file))
        {:keys [model-path]} (nas/search controller 1 (fn [_]))]
    (with-open [model (nas/load-model *gateway* model-path)]
      (is (= names (nas/class-names model))))
    (let [with-val (nas/write-npz (io/file folder "val.npz") ; a validation split of one's own beside them
                                  {:shape [1 28 28] :train (split 0 200) :val (split 200 250) :test (split 250 300)})]
      (with-open [zip (java.util.zip.ZipFile. ^String with-val)]
        (is (= ["train_images.npy" "train_labels.npy" "test_images.npy" "test_labels.npy" "val_images.npy"
                "val_labels.npy"]
               (map #(.getName ^java.util.zip.ZipEntry %) (enumeration-seq (.entries zip)))))))
    (let [e (is (thrown? clojure.lang.ExceptionInfo
                         (nas/write-npz (io/file folder "other.npz")
                                        {:shape [1 28 27] :train (split 0 2) :test (split 2 3)})))]
      (is (string/includes? (ex-message e) "trainImages[0] has 784 values; an image of 1x28x27") (ex-message e))
      (is (not (.exists (io/file folder "other.npz")))))))

(deftest the-found-model-classifies-test-images
  (let [controller (nas/controller *gateway* (small-config))
        {:keys [model-path]} (nas/search controller 2 (fn [_]))
        {:keys [images labels]} (nas/test-images 50)
        model (nas/load-model *gateway* model-path)
        {:keys [classes names probabilities]} (nas/predict model images)]
    (is (= 50 (count classes) (count probabilities)))
    (is (= "Ankle boot" ((nas/class-names model) 9)))
    (is (= (map (nas/class-names model) classes) names))
    (is (every? #(< (Math/abs (- 1.0 (reduce + %))) 1e-4) probabilities))
    (is (> (count (filter true? (map = classes labels))) 10)) ; better than chance (5 of 50)
    (let [photos (io/file (temp-run-dir) "photos")] ; two test images as PNG files, negated: dark on light
      (.mkdirs photos)
      (doseq [i [0 1]]
        (let [png (java.awt.image.BufferedImage. 28 28 java.awt.image.BufferedImage/TYPE_BYTE_GRAY)]
          (.setPixels (.getRaster png) 0 0 28 28 (float-array (map #(- 255 %) (images i))))
          (javax.imageio.ImageIO/write png "png" (io/file photos (str i ".png")))))
      (let [{:keys [files pixels notes]} (nas/read-images model [photos] :invert? true)]
        (is (= [(str (io/file photos "0.png")) (str (io/file photos "1.png"))] files))
        (is (= ["" ""] notes))
        (is (= (map #(map float %) (take 2 images)) pixels))
        (is (= (take 2 classes) (:classes (nas/predict model pixels)))))
      (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/read-images model [(io/file photos "none.png")])))]
        (is (string/includes? (ex-message e) "none.png: No such file or directory") (ex-message e))))
    (let [e (is (thrown? clojure.lang.ExceptionInfo (nas/load-model *gateway* "/nonexistent/run")))]
      (is (string/includes? (ex-message e) "does not exist") (ex-message e)))
    (let [closed (with-open [again (nas/load-model *gateway* model-path)] ; the engine lets go of it at the end
                   (is (= (take 5 classes) (:classes (nas/predict again (take 5 images)))))
                   again)
          e (is (thrown? clojure.lang.ExceptionInfo (nas/predict closed (take 1 images))))]
      (is (= ::nas/refused (:reason (ex-data e))))
      (is (string/includes? (ex-message e) "this FoundModel was closed") (ex-message e))
      (is (= "FoundModel (closed)" (str closed))))))

(deftest connect-reaches-an-engine-started-elsewhere
  (let [token "the-right-token-of-at-least-32-characters"
        python (or (System/getenv "NAS_PATTERN_PYTHON") "python3")
        builder (ProcessBuilder. ^java.util.List [python "-m" "nas_pattern.gateway"])
        _ (.put (.environment builder) "NAS_PATTERN_TOKEN" token)
        engine (.start builder)
        run-dir (temp-run-dir)
        released (future ; the engine's line saying it closed the controller left open below
                   (some #(when (string/includes? % "releasing its run directory") %)
                         (line-seq (io/reader (.getErrorStream engine)))))]
    (try
      (let [ready (.readLine (io/reader (.getInputStream engine)))
            port (Integer/parseInt (second (string/split ready #" ")))
            config (assoc (small-config) :run-dir run-dir)]
        (let [e (is (thrown? clojure.lang.ExceptionInfo
                             (nas/connect port "a-wrong-token-of-at-least-32-characters")))]
          (is (string/includes? (ex-message e) "wrong or missing auth token")))
        (with-open [gateway (nas/connect port token)]
          (nas/step (nas/controller gateway config))) ; one child recorded; the controller left open
        ;; closing the gateway only disconnected: the engine closed the controller, so the run resumes
        (is (string/includes? (deref released 60000 "no line in 60 s") run-dir))
        (with-open [gateway (nas/connect port token)
                    controller (nas/controller gateway {:resume run-dir})]
          (is (= 2 (:episodes (nas/search controller 1 (fn [_]))))))
        (.close (.getOutputStream engine)) ; the engine's own rule: it exits when its stdin closes
        (is (.waitFor engine 20 java.util.concurrent.TimeUnit/SECONDS)))
      (finally (.destroyForcibly engine)))))
