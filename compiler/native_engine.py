"""The native engine: compile a program to a numba kernel and run every episode of a replay store.

Kernels are cached by a hash of the program and of the code that produces and
supports them. The generated module is written to ``cache_dir()/native`` and
imported from there, so numba can keep the machine code beside it
(``__pycache__``) and a later process loads it instead of compiling again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ttsc.cache import cache_dir
from ttsc.cpus import available_cpus
from ttsc.compiler.compile import digest_of, neutral
from ttsc.compiler.native import NativeProgram, generate_native
from ttsc.dsl.checker import CheckedProgram
from ttsc.dsl.evaluate import evaluate
from ttsc.errors import TtscError
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.replay import ReplayEnvironment, tables_for
from ttsc.runtime.store import Store
from ttsc.runtime.tables import ReplayTables, shuffle_orders


@dataclass(frozen=True)
class NativePolicy:
    name: str
    checked: CheckedProgram  # the program it was generated from: its constants point into this AST
    program: NativeProgram
    module: types.ModuleType
    digest: str

    def constants(self, params: dict) -> tuple[np.ndarray, np.ndarray]:
        """Every parameter-fixed value, computed by the one evaluator (Python's arithmetic, ops.py)."""
        values: list = []
        ki = np.zeros(max(self.program.n_int_constants, 1), dtype=np.int64)
        kf = np.zeros(max(self.program.n_float_constants, 1), dtype=np.float64)
        for k in self.program.constants:
            env = {name: params[ref] if kind == "param" else values[ref] for name, (kind, ref) in k.names.items()}
            v = evaluate(k.node, env, self.checked.type_of)
            values.append(v)
            if k.store == "KF":
                kf[k.index] = float(v)
            else:
                ki[k.index] = -1 if v is None else int(v)
        return ki, kf


_memory: dict[str, NativePolicy] = {}
_ready: set[str] = set()  # digests whose kernel this process has compiled or loaded

# Called with the strategy's name just before numba compiles a kernel it has no machine code for
# (seconds); the CLI sets it to say "compiling …". None: compile silently.
compile_notice: Callable[[str], None] | None = None


def compile_native(checked: CheckedProgram) -> NativePolicy:
    key = digest_of(checked, "native")
    hit = _memory.get(key)
    if hit is not None:
        return hit
    program = generate_native(neutral(checked))
    module = _load(checked.name, key, program.source)
    policy = NativePolicy(checked.name, checked, program, module, key)
    _memory[key] = policy
    return policy


def _load(name: str, key: str, python: str) -> types.ModuleType:
    """Import the module from a file (numba caches machine code only for functions defined in files)."""
    folder = cache_dir() / "native"
    path = folder / f"ttsc_native_{name}_{key}.py"
    try:
        if not path.exists() or path.read_text(encoding="utf-8") != python:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"{path.name}.{os.getpid()}.tmp"
            tmp.write_text(python, encoding="utf-8")
            tmp.replace(path)
    except OSError as exc:
        raise TtscError(f"cannot write the native kernel to {folder}: {exc.strerror or exc}; "
                        "set TTSC_CACHE_DIR to a writable folder, or run with `--engine batched`, "
                        "which needs no kernel cache") from None
    mod_name = f"ttsc_native_{name}_{key}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


# ---- per-store data, built once and reused by every run on the store --------

@dataclass(frozen=True, eq=False)
class _StoreData:
    tables: ReplayTables
    n_branches: np.ndarray  # [Q] int64
    perm_of: np.ndarray     # [Q] int64: which permutation family a question uses (one per branch count)
    widths: tuple[int, ...]  # the branch count of each family
    n_answers: int
    texts: np.ndarray       # object: every question's answers back to back, then None (for id -1)
    offsets: np.ndarray     # [Q] int64: where question q's answers start in ``texts``


_stores: dict[int, tuple[Store, _StoreData]] = {}
_beta = np.full((0, 0), np.nan)
BETA_TABLE_MAX = 1024  # 8 MB; counts beyond it (stores with more branches) are computed by Python each time


def _store_data(store: Store) -> _StoreData:
    hit = _stores.get(id(store))
    if hit is not None and hit[0] is store:
        return hit[1]
    t = tables_for(store)
    widths = tuple(int(n) for n in np.unique(t.n_branches))
    perm_of = np.array([widths.index(int(n)) for n in t.n_branches], dtype=np.int64)
    n_answers = max((len(v) for v in t.vocab), default=0)
    sizes = np.array([len(v) for v in t.vocab], dtype=np.int64)
    texts = np.empty(int(sizes.sum()) + 1, dtype=object)
    texts[:-1] = [a for v in t.vocab for a in v]
    texts[-1] = None
    data = _StoreData(t, t.n_branches.astype(np.int64), perm_of, widths, n_answers, texts,
                      np.cumsum(sizes) - sizes)
    if len(_stores) >= 16:
        _stores.pop(next(iter(_stores)))
    _stores[id(store)] = (store, data)
    return data


def _perms(widths: tuple[int, ...], seeds: tuple[int, ...]) -> np.ndarray:
    width = max(widths, default=0)
    out = np.zeros((len(widths), len(seeds), width), dtype=np.int64)
    for g, n in enumerate(widths):
        out[g, :, :n] = shuffle_orders(n, seeds)
    return out


def _beta_table(size: int) -> np.ndarray:
    """The shared beta_confidence table, NaN where not computed yet; the kernel fills it in exactly."""
    global _beta
    if _beta.shape[0] < size:
        grown = np.full((size, size), np.nan)
        grown[:_beta.shape[0], :_beta.shape[1]] = _beta
        _beta = grown
    return _beta


PARALLEL_FROM = 1024  # episodes; below this one thread is quicker than handing out work
BLOCK_MAX = 20_000  # episodes per kernel call in a large run


def threads() -> int:
    """Threads for large runs: ``$TTSC_THREADS``, else the CPUs this process may use."""
    env = os.environ.get("TTSC_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise TtscError(f"TTSC_THREADS must be a whole number, not `{env}`") from None
    return available_cpus()


_pools: dict[int, ThreadPoolExecutor] = {}
if hasattr(os, "register_at_fork"):  # a forked child inherits the pools but not their threads
    os.register_at_fork(after_in_child=_pools.clear)


def _run_episodes(kernel, args: tuple, episodes: int) -> None:
    """Run the kernel over every episode: in blocks on several threads (it releases the GIL) for large runs.

    Each block writes only its own columns and episodes are independent, so the
    result is the same for any number of threads.
    """
    n = threads()
    if episodes < PARALLEL_FROM:
        kernel(*args, 0, episodes)
        return
    # A few blocks per thread even out episodes of unequal length; blocks of at most BLOCK_MAX episodes keep
    # what is left running after a Ctrl-C (the blocks already started) short.
    blocks = max(4 * n, -(-episodes // BLOCK_MAX))
    bounds = [episodes * i // blocks for i in range(blocks + 1)]
    spans = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
    if n == 1:
        for a, b in spans:
            kernel(*args, a, b)
        return
    pool = _pools.get(n)
    if pool is None:
        pool = _pools[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ttsc-kernel")
    futures = [pool.submit(kernel, *args, a, b) for a, b in spans]
    try:
        for f in futures:
            f.result()
    except BaseException:  # interrupted: blocks not started yet are dropped, not left to run after it
        for f in futures:
            f.cancel()
        raise


def _has_machine_code(module: types.ModuleType) -> bool:
    """Whether numba's cache beside the module holds the episode's machine code (then loading takes ~0.1 s)."""
    path = Path(module.__file__)
    return any((path.parent / "__pycache__").glob(f"{path.stem}.episode-*.nbi"))


_BLAS = "scipy.linalg.cython_blas"


@contextlib.contextmanager
def _no_blas_probe():
    """numba's first compile or cache load in a process imports ``numba.np.arraymath``, which imports
    SciPy's BLAS bindings (when SciPy is installed: about a second) only to choose how ``np.cov``-like
    inner products are compiled. No kernel calls BLAS, so they stay unimported meanwhile; the entry is
    removed afterwards and a later ``import scipy.linalg`` works as usual."""
    if "numba.np.arraymath" in sys.modules or _BLAS in sys.modules:
        yield
        return
    sys.modules[_BLAS] = None  # makes the import raise ImportError: numba then uses its own loops
    try:
        yield
    finally:
        if _BLAS in sys.modules and sys.modules[_BLAS] is None:
            del sys.modules[_BLAS]


def run_native(checked: CheckedProgram, params: dict, env: ReplayEnvironment) -> Outcome:
    """Every episode of the replay environment ``env`` in one kernel call (per thread); ``env`` only says
    which store and seeds, and grades. ``compile_seconds`` holds generating, compiling or loading the
    kernel; ``seconds`` the rest."""
    start = time.perf_counter()
    policy = compile_native(checked)
    compile_seconds = time.perf_counter() - start
    seeds = env.seeds
    d = _store_data(env.store)
    t = d.tables
    ki, kf = policy.constants(params)
    nq = len(d.n_branches)
    out = np.zeros((7, len(seeds) * nq), dtype=np.int64)
    if out.shape[1]:
        beta = _beta_table(min(BETA_TABLE_MAX, max(130, int(d.n_branches.max()) + 2)))
        written = policy.program.literals
        valid = env.valid_table(written)  # interns the literals first: their ids follow each vocabulary
        literals = np.asarray(env.answer_ids(np.arange(nq), written), dtype=np.int64).reshape(nq, -1)
        if literals.shape[1] == 0:
            literals = np.zeros((nq, 1), dtype=np.int64)
        # the `confidence` table for a kernel that reads it; an unread stand-in of the same type otherwise,
        # so every kernel shares one driver
        confidence = t.confidence if "confidence" in policy.program.signals else np.zeros((nq, 1, 1))
        args = (ki, kf, t.probe_ids, t.n_probes, t.total_tokens, t.final_ids, t.probe_freq, d.n_branches,
                _perms(d.widths, seeds), d.perm_of, d.n_answers, beta, valid, literals, confidence, out)
        if policy.digest not in _ready:  # compile (or load) now, on no episode, to time it apart
            if compile_notice is not None and not _has_machine_code(policy.module):
                compile_notice(policy.name)
            warm = time.perf_counter()
            with _no_blas_probe():
                policy.module.run(*args, 0, 0)
            compile_seconds += time.perf_counter() - warm
            _ready.add(policy.digest)
        _run_episodes(policy.module.run, args, out.shape[1])
    shape = (len(seeds), nq)
    answer = out[0]
    question = np.tile(np.arange(nq), len(seeds))
    sizes = np.array([len(v) for v in t.vocab], dtype=np.int64)
    given = (answer >= 0) & (answer < sizes[question])  # else none, or a string of the program no branch gave
    texts = d.texts[np.where(given, d.offsets[question] + answer, len(d.texts) - 1)]
    written = np.flatnonzero(answer >= sizes[question])
    if written.size:
        texts[written] = env.answer_text(written, answer[written])
    return Outcome(
        seeds=seeds,
        answers=texts.reshape(shape),
        correct=env.grade(np.arange(answer.size), answer).reshape(shape),
        tokens=out[1].reshape(shape),
        sequential=out[2].reshape(shape),
        rounds=out[3].reshape(shape),
        opened=out[4].reshape(shape),
        pruned=out[5].reshape(shape),
        stop_line=out[6].reshape(shape),
        seconds=time.perf_counter() - start - compile_seconds,
        compile_seconds=compile_seconds,
    )
