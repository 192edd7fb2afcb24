"""Crossing the py4j bridge: core values as Java values and back, and every error of a JVM call as
one NASException line. The adapters (adapters.py) and the engine (gateway.py) build on it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import struct
import traceback
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from py4j.clientserver import ClientServer
from py4j.java_gateway import JavaObject
from py4j.protocol import Py4JError, Py4JJavaError

from nas_pattern.config import INPUT_ERRORS as CLI_INPUT_ERRORS
from nas_pattern.files import input_error
from nas_pattern.model import MODEL
from nas_pattern.networks.base import Metrics
from nas_pattern.records import Episode, SearchResult
from nas_pattern.search_space import Architecture
from nas_pattern.session import RunFinished

# Every error reaches the JVM caller as a NASException with one line. Input errors are the
# caller's to fix; the others are also printed with their traceback on the engine's stderr.
INPUT_ERRORS = (*CLI_INPUT_ERRORS, RunFinished)

F = TypeVar("F", bound=Callable[..., Any])


class Bridge:
    """What every adapter needs: the gateway (to build Java values) and the conversions."""

    def __init__(self, server: ClientServer):
        self.server = server
        self.jvm = server.jvm

    def architecture(self, architecture: Architecture) -> JavaObject:
        return self.jvm.naspattern.Architecture(json.dumps(architecture.to_json()), architecture.describe())

    def metrics(self, metrics: Metrics | None) -> JavaObject | None:
        if metrics is None:
            return None
        return self.jvm.naspattern.Metrics(float(metrics.accuracy), float(metrics.loss), int(metrics.params),
                                           float(metrics.train_seconds))

    def episode(self, e: Episode) -> JavaObject:
        return self.jvm.naspattern.Episode(e.episode, self.architecture(e.architecture), self.metrics(e.metrics),
                                           float(e.reward), float(e.baseline), e.cached, float(e.seconds),
                                           e.status, e.reason, e.evaluation)

    def result(self, r: SearchResult, run_dir: Path) -> JavaObject:
        model = run_dir / MODEL
        derived, rescored = self.jvm.java.util.ArrayList(), self.jvm.java.util.LinkedHashMap()
        for e in r.derived:
            derived.add(self.episode(e))
        for episode, metrics in r.rescored.items():  # best first: a LinkedHashMap keeps the order
            rescored.put(episode, self.metrics(metrics))
        return self.jvm.naspattern.SearchResult(self.episode(r.best), self.metrics(r.test), len(r.episodes),
                                                r.stop_reason, float(r.seconds), float(r.derive_seconds),
                                                r.recorded_before, derived, rescored, str(run_dir),
                                                str(model) if model.exists() else None)

    @staticmethod
    def core_metrics(metrics: JavaObject) -> Metrics:
        if metrics is None:
            raise ValueError("metrics must not be null")
        return Metrics(accuracy=metrics.accuracy(), loss=metrics.loss(), params=metrics.params(),
                       train_seconds=metrics.trainSeconds())

    def java_exception(self, error: BaseException) -> Py4JJavaError:
        """`error` as a naspattern.NASException that py4j rethrows on the JVM (see PythonParameters)."""
        message = input_error(error) if isinstance(error, INPUT_ERRORS) else f"{type(error).__name__}: {error}"
        return Py4JJavaError(message, self.jvm.naspattern.NASException(message))


def from_base64(text: str) -> bytes:
    """The bytes the JVM sent as base64 text, sent so because py4j decodes a byte[] argument a byte
    at a time in Python (1.4 s for 31 MB, against 0.1 s as text); ValueError in one line for text
    that is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"malformed base64 from the JVM: {err}") from None


def pack_texts(texts: Sequence[str]) -> bytes:
    """Texts as they cross the bridge in bytes (FoundModel.readImages): how many there are, then
    each one's UTF-8 bytes after their count, all counts little-endian int32. A file name that is
    not UTF-8 keeps its bytes (the JVM decodes what it can)."""
    packed = [struct.pack("<i", len(texts))]
    for text in texts:
        data = text.encode("utf-8", "surrogateescape")
        packed += [struct.pack("<i", len(data)), data]
    return b"".join(packed)


def unpack_texts(data: bytes) -> list[str]:
    """The texts of pack_texts(texts); ValueError for bytes that are not that."""
    try:
        (count,), at, texts = struct.unpack_from("<i", data), 4, []
        for _ in range(count):
            (size,) = struct.unpack_from("<i", data, at)
            texts.append(data[at + 4:at + 4 + size].decode("utf-8"))
            at += 4 + size
    except (struct.error, UnicodeDecodeError) as err:
        raise ValueError(f"malformed packed texts: {err}") from None
    if at != len(data):
        raise ValueError(f"malformed packed texts: {len(data)} bytes, not the {at} their counts say")
    return texts


def reported(method: F) -> F:
    """Turn every error of a JVM call into a NASException with one clear line (never py4j's
    Py4JException with a Python traceback in it)."""

    @functools.wraps(method)
    def call(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Py4JJavaError:
            raise  # already a Java exception (e.g. thrown by a listener): the JVM gets it back as it was
        except Exception as error:
            if isinstance(error, (Py4JError, ConnectionError)) and getattr(self, "abandoned", False):
                # the bridge failed because the JVM of this controller is gone: no one to tell, nothing to build
                raise ConnectionError(f"the JVM that called {method.__name__}() is gone") from None
            if not isinstance(error, INPUT_ERRORS):
                traceback.print_exc()
            raise self.bridge.java_exception(error) from error

    return cast(F, call)


class Identity:
    """toString and hashCode of an adapter, which py4j forwards to Python. The hash is a serial
    number of the core object it adapts, unique in this engine, so the JVM's equals (in Bridged)
    compares hashes: every getAgent() proxy is then equal to the others."""

    bridge: Bridge
    _serials: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
    _next_serial = itertools.count(1)

    def core(self) -> object:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def toString(self) -> str:
        return self.describe()

    def hashCode(self) -> int:
        core = self.core()
        if core not in Identity._serials:
            Identity._serials[core] = next(Identity._next_serial)
        return Identity._serials[core]
