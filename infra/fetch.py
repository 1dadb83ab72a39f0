"""Fetch the servers' and Delta Lake's jars from Maven Central into the cache, once.

Each component is a small POM in ``infra/jars/``. ``mvn dependency:copy-dependencies`` resolves it
into a private local repository under the cache and copies the runtime jars into
``CACHE/lib/<component>``. A marker file holding the POM's hash makes a second call a no-op, and a
changed POM (a version bump) fetches again. Nothing here is committed: the cache is git-ignored.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from infra.log import get_logger

POM_DIR = Path(__file__).resolve().parent / "jars"
COMPONENTS = ("kafka", "cassandra", "delta")

# Delta's POM drags in Spark's own transitive jars (Hadoop, Parquet, Jackson); pyspark already
# ships those, and a second copy on the classpath conflicts. Keep only Delta's own groups.
_ONLY_GROUPS = {"delta": "io.delta,io.unitycatalog"}

log = get_logger(__name__)


class FetchError(RuntimeError):
    """Maven could not resolve a component."""


def _pom(component: str) -> Path:
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    return POM_DIR / f"{component}.pom.xml"


def _digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes() + _ONLY_GROUPS.get(pom.stem.split(".")[0], "").encode()).hexdigest()


def lib_dir(cache: Path, component: str) -> Path:
    return cache / "lib" / component


def is_fetched(cache: Path, component: str) -> bool:
    marker = lib_dir(cache, component) / ".fetched"
    return marker.exists() and marker.read_text() == _digest(_pom(component))


def jars(cache: Path, component: str) -> list[Path]:
    """The component's jars, fetching them first if the cache lacks them."""
    ensure(cache, component)
    return sorted(lib_dir(cache, component).glob("*.jar"))


def ensure(cache: Path, component: str) -> Path:
    """Make sure the component's jars are in the cache; return their folder."""
    pom = _pom(component)
    target = lib_dir(cache, component)
    if is_fetched(cache, component):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("Maven ('mvn') is not on PATH: install it (Debian package 'maven')")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn, "-B", "-q", "-f", str(pom),
        f"-Dmaven.repo.local={cache / 'm2'}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    if component in _ONLY_GROUPS:
        cmd.append(f"-DincludeGroupIds={_ONLY_GROUPS[component]}")
    log.info("fetching jars", component=component, pom=str(pom))
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise FetchError(f"fetching {component} jars failed (mvn exit {result.returncode}):\n{tail}")
    # swap in atomically enough: a crash before the rename leaves only the .partial folder
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (target / ".fetched").write_text(_digest(pom))
    log.info("fetched jars", component=component, jars=len(list(target.glob("*.jar"))))
    return target


def splink_jar() -> Path:
    """Splink's Scala similarity functions for Spark 4 (``damerau_levenshtein``, ...), shipped
    in the splink wheel: nothing to fetch. Found without importing splink (a slow import)."""
    import importlib.util

    spec = importlib.util.find_spec("splink")
    if spec is None or spec.origin is None:
        raise FetchError("the splink package is not installed")
    found = sorted((Path(spec.origin).parent / "internals" / "files" / "spark_jars").glob(
        "scala-udf-similarity-*_spark4.x.jar"))
    if not found:
        raise FetchError(f"no scala-udf-similarity jar for Spark 4 in {Path(spec.origin).parent}")
    return found[-1]


def spark_jars(cache: Path) -> list[Path]:
    """Every jar a Spark session of ucid needs: Delta Lake's, then Splink's."""
    return [*jars(cache, "delta"), splink_jar()]
