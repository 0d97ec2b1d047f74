"""SPARQL servers for the remote-store tests, on 127.0.0.1: `oxigraph serve` (the pip package) and a
stand-in for Apache Jena Fuseki (tests/jena/ArqServer.java: Jena's ARQ over TDB2 at Fuseki's URLs,
built from Debian's Jena libraries)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
# Debian's libapache-jena-java (Jena 4.5) and what it needs; Fuseki itself is not packaged there.
JAVA_LIBS = Path("/usr/share/java")
JENA_JARS = ["jena-arq", "jena-base", "jena-core", "jena-dboe-base", "jena-dboe-index", "jena-dboe-storage",
             "jena-dboe-trans-data", "jena-dboe-transaction", "jena-iri", "jena-tdb2", "commons-cli", "commons-codec",
             "commons-compress", "commons-csv", "commons-io", "commons-lang3", "dexx.collection", "gson", "guava",
             "httpclient", "httpcore", "jackson-annotations", "jackson-core", "jackson-databind", "jakarta.json-api",
             "jsonld-java", "protobuf", "thrift", "titanium-json-ld", "slf4j-api", "slf4j-nop"]
ARQ_SERVER = Path(__file__).parent / "jena" / "ArqServer.java"


def serving(proc: subprocess.Popen[bytes], url: str) -> Iterator[str]:
    """Wait for a server to answer an ASK at url/query, yield url, and stop the server."""
    try:
        for _ in range(150):
            try:
                if httpx.get(url + "/query", params={"query": "ASK {}"}, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, f"the server at {url} exited with {proc.returncode}"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def compiled_arq_server(classes: Path) -> str:
    """Compile the stand-in into `classes`; the class path to run it with (skip without Jena)."""
    classpath = ":".join([*map(str, jena_classpath()), str(classes)])
    subprocess.run(["javac", "-d", str(classes), "-cp", classpath, str(ARQ_SERVER)], check=True)
    xerces_messages(JAVA_LIBS / "jena-core.jar", classes)
    return classpath


def jena_classpath() -> list[Path]:
    jars = [JAVA_LIBS / f"{name}.jar" for name in JENA_JARS]
    if not shutil.which("javac") or not all(jar.exists() for jar in jars):
        pytest.skip("Jena's libraries (Debian: libapache-jena-java) or a JDK (javac) are not installed")
    return jars


def xerces_messages(jena_core: Path, into: Path) -> None:
    """Debian's jena-core moved its copy of Xerces to the package `xerces` but left Xerces' message
    bundles under `org/apache/jena/ext/xerces`, so Jena fails to start (a RuntimeException, "internal
    error", while it builds the XSD datatypes). Put the bundles where the moved classes look."""
    prefix = "org/apache/jena/ext/"
    with zipfile.ZipFile(jena_core) as jar:
        for name in jar.namelist():
            if name.startswith(prefix + "xerces/") and name.endswith(".properties"):
                target = into / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jar.read(name))


def arq_server(classpath: str, *options: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(["java", "-cp", classpath, "ArqServer", str(port), *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield from serving(proc, f"http://127.0.0.1:{port}/ds")
