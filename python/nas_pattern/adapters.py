"""The adapters: each participant of the pattern as the Java interface of package `naspattern` it
implements, by calling the core (snake_case, not renamed) under that interface's camelCase names,
by which py4j calls them. Values cross as Java primitives, strings and the small Java value
classes (Architecture, Sample, Metrics, Episode, SearchResult), built from primitives (bridge.py).
One piece: the whole of the engine that the JVM sees, one adapter per Java interface, side by side.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Callable

import numpy as np
from py4j.java_gateway import JavaObject

from nas_pattern.agents.base import Sample
from nas_pattern.bridge import Bridge, Identity, from_base64, pack_texts, reported, unpack_texts
from nas_pattern.controller import NASController
from nas_pattern.files import UNWRITABLE
from nas_pattern.model import FoundModel
from nas_pattern.networks.base import Network as CoreNetwork
from nas_pattern.records import Episode, SearchFailed, children_recorded, resume_command, resume_config
from nas_pattern.run_dir import Recorder
from nas_pattern.session import Search, finish


# --8<-- [start:adapter]
class Agent(Identity):
    """naspattern.RLAgent, adapting the core's Agent (RLAgent or RandomAgent)."""

    class Java:
        implements = ["naspattern.RLAgent"]

    def __init__(self, bridge: Bridge, controller: NASController):
        self.bridge = bridge
        self.agent = controller.agent
        self.given: dict[int, Sample] = {}  # the samples handed to the JVM, by number

    @reported
    def policy(self) -> JavaObject:
        sample = self.agent.policy()
        self.given[sample.number] = sample
        return self.bridge.jvm.naspattern.Sample(sample.number, self.bridge.architecture(sample.architecture))

    @reported
    def reward(self, sample: JavaObject, metrics: JavaObject) -> float:
        if sample is None:
            raise ValueError("sample must not be null: reward the Sample that policy() returned")
        number = sample.number()
        if number not in self.given:  # the controller's own samples never cross the bridge
            raise ValueError(f"cannot reward sample {number}: this RLAgent never gave it to the JVM "
                             "(policy() gives the samples; evaluateNetwork() rewards the controller's own)")
        return float(self.agent.reward(self.given[number], self.bridge.core_metrics(metrics)))

    @reported
    def valueFunction(self) -> float:
        return float(self.agent.value_function())

    @reported
    def updatePolicy(self) -> str:
        return json.dumps(self.agent.update_policy())

    def core(self) -> object:
        return self.agent

    def describe(self) -> str:
        return f"RLAgent ({type(self.agent).__name__}, {len(self.agent.space.num_choices)} decisions per architecture)"


# --8<-- [end:adapter]


class Network(Identity):
    """naspattern.Network, adapting a child the controller built (CNN or RNN). Read only: training
    it further is not offered, since the controller records each child as it was evaluated."""

    class Java:
        implements = ["naspattern.Network"]

    def __init__(self, bridge: Bridge, network: CoreNetwork, controller: NASController):
        self.bridge = bridge
        self.network = network
        self.controller = controller

    def core(self) -> object:
        return self.network

    def describe(self) -> str:
        return f"Network ({type(self.network).__name__} {self.network.architecture.describe()})"

    @reported
    def architecture(self) -> JavaObject:
        return self.bridge.architecture(self.network.architecture)

    @reported
    def evaluate(self) -> JavaObject:
        return self.bridge.metrics(self.network.evaluate(self.controller.data.val))

    @reported
    def layers(self) -> JavaObject:
        lines = self.network.layers
        array = self.bridge.server.new_array(self.bridge.jvm.String, len(lines))
        for i, line in enumerate(lines):
            array[i] = line
        return array


class Controller(Identity):
    """naspattern.NASController, adapting the core's NASController; records to the run directory
    exactly as `python -m nas_pattern.run` does, so a JVM search can be resumed from the CLI."""

    class Java:
        implements = ["naspattern.NASController"]

    def __init__(self, bridge: Bridge, search: Search, closed: Callable[[Search], None],
                 caller_gone: Callable[[], bool]):
        self.bridge = bridge
        self.search_ = search
        self.controller = search.controller
        self.agent = Agent(bridge, self.controller)
        self.listener: JavaObject | None = None  # the SearchListener of the search() under way
        self.searching = False  # a search() is under way (close() is refused until it ends)
        self.closed = False
        self.abandoned = False  # the JVM that opened it is gone: closed as soon as no search() is under way
        self.unrecorded: OSError | None = None  # why the last child could not be recorded (a full disk)
        self._state = threading.Lock()  # the three above, set by JVM threads (and the engine) that may race
        self._on_close = closed  # the engine forgets the search
        self._caller_gone = caller_gone  # whether the JVM whose call this thread serves is gone
        Recorder(search.run_dir, self.controller)
        self.controller.add_callback(self._tell_listener)

    @reported
    def generateArchitecture(self) -> JavaObject:
        self._check_open()
        return self.bridge.architecture(self.controller.generate_architecture())

    @reported
    def trainNetwork(self, architecture: JavaObject) -> Network:
        self._check_open()
        if architecture is None:
            raise ValueError("architecture must not be null")
        parsed = self.controller.agent.space.parse(json.loads(architecture.json()))
        return Network(self.bridge, self.controller.train_network(parsed), self.controller)

    @reported
    def evaluateNetwork(self) -> JavaObject:
        self._check_open()
        try:
            return self.bridge.metrics(self.controller.evaluate_network())
        except OSError as err:
            raise self._cannot_record(err) if err.errno in UNWRITABLE else err from None

    def getAgent(self) -> Agent:
        return self.agent

    def getNetwork(self) -> Network | None:
        network = self.controller.network
        return None if network is None else Network(self.bridge, network, self.controller)

    @reported
    def search(self, episodes: int, listener: JavaObject) -> JavaObject:
        """`episodes` more children: the budget becomes the children so far plus these, recorded in
        config.json, so that the CLI resumes a JVM search with the budget it was given."""
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        with self._state:
            self._check_open()
            self.searching = True
        controller, session = self.controller, self.search_
        self.listener = listener
        try:
            session.set_budget(len(controller.history) + episodes)
            try:
                try:
                    result = controller.search()
                except SearchFailed as err:
                    raise SearchFailed(f"{err}{session.retry(jvm=True)}") from None
                if self.abandoned:  # the children are recorded; a resumed search derives and tests the model
                    raise ConnectionError("the JVM that called search() is gone")
                result = session.derive(result, callback=lambda e: self._tell_end(
                    lambda: listener.onDerived(self.bridge.episode(e))))
                result = session.final_test(result, lambda epoch: self._tell_end(
                    lambda: listener.onFinalEpoch(epoch.number, session.config.final_epochs, epoch.loss)))
            finally:
                self.listener = None  # the files tell it nothing
            for line in finish(session, result):
                print(f"nas-pattern: model: {line}", file=sys.stderr)
        except OSError as err:
            raise self._cannot_record(err) if err.errno in UNWRITABLE else err from None
        finally:
            with self._state:
                self.searching = False
            if self.abandoned:  # no one is left to take the result
                self.close()
                print(f"nas-pattern: the search of {self.runDir()} stopped, and the engine closed its controller, "
                      "releasing its run directory", file=sys.stderr, flush=True)
        return self.bridge.result(result, session.run_dir.path.resolve())

    @reported
    def close(self) -> None:
        """Release the run directory (another controller, another engine or the CLI may then resume
        it) and the executor's workers; the calls that train or record are refused after it. Closing
        twice is nothing; closing during this controller's search() is refused."""
        with self._state:
            if self.closed:
                return
            if self.searching:
                raise ValueError("cannot close this NASController while its search() is under way: stop it "
                                 "first (the listener's shouldStop), then close it")
            self.closed = True
        self.search_.close()
        self._on_close(self.search_)

    def abandon(self) -> None:
        """The JVM that opened this controller is gone (see gateway.Engine.connection_closed, and
        _tell_listener for the JVM waiting on a search): close it now, or, while its search() is
        under way, stop that search after the current child and close it when the search ends."""
        with self._state:
            if self.abandoned:
                return
            self.abandoned, searching = True, self.searching
            if searching:
                self.controller.stop()
        path = self.runDir()
        if not searching:
            self.close()
        done = ("stops its search after the current child, then closes it" if searching
                else "closed it, releasing its run directory")
        print(f"nas-pattern: the JVM that opened the controller of {path} is gone, so the engine {done}; "
              f"resume the search with {resume_config(path)} or {resume_command(path)}", file=sys.stderr,
              flush=True)

    def _cannot_record(self, err: OSError) -> ValueError:
        """A write to the run directory failed (a full disk). What is written stays whole, but this
        controller holds a child its record lacks: it takes no more (a gap would spoil the record)."""
        self.unrecorded = err
        path, recorded = self.search_.run_dir.path, len(self.search_.run_dir.peek_episodes(self.controller.agent.space))
        return ValueError(f"cannot write to {path}: {err.strerror or err}; {children_recorded(recorded)} there, and "
                          "this NASController takes no more: close it, and once the directory can be written to, "
                          f"continue with a new controller: {resume_config(path)}")

    def _check_open(self) -> None:
        if self.unrecorded is not None and not self.closed:
            raise self._cannot_record(self.unrecorded)
        if self.closed:
            path = self.search_.run_dir.path
            raise ValueError(f"this NASController is closed, and its run directory {path} released; continue "
                             f"its search with a new controller: {resume_config(path)}")

    def runDir(self) -> str:
        return str(self.search_.run_dir.path)

    def core(self) -> object:
        return self.controller

    def describe(self) -> str:
        return (f"NASController (run dir {self.runDir()}, {len(self.controller.history)} children so far"
                + (", closed)" if self.closed else ")"))

    def _tell_end(self, tell: Callable[[], None]) -> None:
        """Tell the listener a step of the search's end (`tell`: a derived child, a final epoch), once
        it is kept in the run directory; if the JVM waiting on the search is gone, the search stops
        here instead (a resumed search goes on from what was kept)."""
        if not self.abandoned and self._caller_gone():
            self.abandon()
        if self.abandoned:
            raise ConnectionError("the JVM that called search() is gone")
        if self.listener is not None:  # search(n, null) is allowed
            tell()

    def _tell_listener(self, episode: Episode) -> None:
        if self.searching and not self.abandoned and self._caller_gone():
            self.abandon()  # killed, with no listener whose callback would have failed
        if self.abandoned:  # a stop() made before the search began was not seen by it
            self.controller.stop()
        if self.listener is not None:
            self.listener.onEpisode(self.bridge.episode(episode))
            if self.listener.shouldStop():
                self.controller.stop()


class Model(Identity):
    """naspattern.ModelEngine, serving a saved model (nas_pattern.load_model) to FoundModel.predict:
    the images come packed as little-endian float32 bytes and the answer goes back the same way, so
    a batch of images is one call across the bridge, not one per pixel."""

    class Java:
        implements = ["naspattern.ModelEngine"]

    def __init__(self, bridge: Bridge, model: FoundModel):
        self.bridge = bridge
        self.model: FoundModel | None = model

    @property
    def loaded(self) -> FoundModel:
        """The model; ValueError once close() let go of it."""
        if self.model is None:
            raise ValueError("this model was closed: load it again with NASGateway.loadModel")
        return self.model

    def close(self) -> None:
        """Let go of the model, its weights and its module, now (FoundModel.close). py4j lets go of
        this adapter only when the JVM's garbage collector drops its proxy, and a JVM with memory to
        spare may never do that: a service that loads model after model would keep every one."""
        self.model = None

    @reported
    def classify(self, pixels: str, count: int) -> bytes:
        size, data = self.pixelsPerImage(), from_base64(pixels)
        if count < 0 or len(data) not in (count * size, 4 * count * size):  # a byte a value (whole ones), or float32
            raise ValueError(f"expected {count} images of {size} values, got {len(data)} bytes")
        values = np.frombuffer(data, dtype=np.uint8 if len(data) == count * size else "<f4")
        classes, probabilities = self.loaded.predict(values.reshape(count, *self.loaded.card.input_shape))
        return (classes.numpy().astype("<i4").tobytes() + probabilities.numpy().astype("<f4").tobytes())

    @reported
    def readImages(self, paths: str, invert: bool) -> bytes:
        images = self.loaded.read_images(unpack_texts(from_base64(paths)), bool(invert))
        return pack_texts(images.files) + pack_texts(images.notes) + images.pixels.tobytes()

    def pixelsPerImage(self) -> int:
        return math.prod(self.loaded.card.input_shape)

    def numClasses(self) -> int:
        return self.loaded.card.num_classes

    @reported
    def className(self, label: int) -> str:
        names = self.loaded.class_names
        if not 0 <= label < len(names):
            raise ValueError(f"class {label} is not one of this model's {len(names)} classes (0 to {len(names) - 1})")
        return names[label]

    def core(self) -> object:
        return self if self.model is None else self.model

    def describe(self) -> str:
        if self.model is None:
            return "FoundModel (closed)"
        card = self.model.card
        return f"FoundModel ({card.network.rsplit(':', 1)[-1]} {self.model.architecture.describe()}; {card.trained})"
