"""Automatic checks for the chapters' exercises.

Each ``check_*`` function runs a reader's answer on several inputs drawn afresh on every
call (so that no answer can be hard-coded), compares it with a reference and either
prints a confirmation (returning True) or raises :class:`ExerciseCheckError` that
explains what is wrong -- with a specific hint when the answer matches a typical
mistake, and never with the expected value. Answers that change their inputs in place,
return the wrong type, or hand the exercise to the library's own function (directly or
through a helper) are refused.

A notebook's check cell calls :func:`attempt`, which prints the verdict and never
raises, so that a student's notebook runs on to its end with an exercise unanswered;
graders and tests call the ``check_*`` function itself, which raises.
"""

from __future__ import annotations

import builtins
import dis
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from itertools import pairwise
from types import CodeType, FunctionType, ModuleType
from typing import Any

import torch

from .models import Autoencoder, AutoencoderConfig, count_parameters


class ExerciseCheckError(AssertionError):
    """The answer is not right yet; the message says why and what to look at."""


def attempt(check: Callable[[Any], bool], answer: object) -> None:
    """Run ``check(answer)`` for a reader and print the verdict, "Correct: ..." or
    "Not yet: ...", without raising (and without a value for the cell to show).

    An answer still to be written (its starter raises ``NotImplementedError``) and an
    answer that fails with an error of its own are reported as "Not yet" too.
    """
    if not callable(check) or not getattr(check, "__name__", "").startswith("check_"):
        raise TypeError(
            f"check must be one of vae_lib.checks' check_* functions, got {check!r:.80}"
        )
    try:
        check(answer)
    except ExerciseCheckError as error:
        print(f"Not yet: {error}")
    except NotImplementedError as error:
        name = getattr(answer, "__name__", "your function")
        print(f"Not yet: write {name}" + (f" ({error})." if str(error) else "."))
    except Exception as error:  # noqa: BLE001 - the reader's code, any failure
        print(f"Not yet: your answer raised {type(error).__name__}: {error}")


def _raise_hinted(
    got: torch.Tensor,
    hints: Sequence[tuple[torch.Tensor, str]],
    *,
    rtol: float,
    atol: float,
    otherwise: str,
) -> None:
    """Raise the hint of the first typical mistake ``got`` matches (each a wrong
    answer computed on the same inputs, and what it means), else ``otherwise``."""
    for wrong, hint in hints:
        if torch.allclose(got, wrong, rtol=rtol, atol=atol):
            raise ExerciseCheckError(f"not yet: {hint}.")
    raise ExerciseCheckError(otherwise)


def _raise_common_mistake(explained: Sequence[set[str]], hints: dict[str, str]) -> None:
    """Raise the hint of the typical mistake that explains every wrong answer
    (``explained``: for each wrong answer, the names of the mistakes it matches)."""
    for name, hint in hints.items():
        if all(name in names for names in explained):
            raise ExerciseCheckError(f"not yet: {hint}.")


def _passed(message: str) -> bool:
    print(f"Correct: {message}")
    return True


def _fresh_generator() -> torch.Generator:
    """A generator seeded anew on every call, so that no answer can be hard-coded."""
    generator = torch.Generator()
    generator.seed()
    return generator


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """An int drawn uniformly from low..high, both included."""
    return int(torch.randint(low, high + 1, (1,), generator=generator).item())


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator).item())


def _unchanged(inputs: Sequence[object], copies: Sequence[object]) -> None:
    """Fail if an answer changed one of its inputs (tensors, lists) in place."""
    for a, b in zip(inputs, copies, strict=True):
        same = (
            torch.equal(a, b)
            if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
            else a == b
        )
        if not same:
            raise ExerciseCheckError(
                "your function changed its inputs in place; compute new tensors "
                "instead (e.g. a - b, not a.sub_(b))."
            )


def _is_python_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shaped_like(
    got: object,
    expected: torch.Tensor,
    requirement: str,
    hint: str = "",
    sep: str = ".",
) -> torch.Tensor:
    """``got`` as a detached tensor of ``expected``'s dtype, or an error saying
    ``requirement`` (e.g. "the answer must be shaped") and the shape that arrived;
    a tensor of integers or booleans is refused where ``expected`` holds real
    numbers."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = (
            tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        )
        raise ExerciseCheckError(
            f"{requirement} {tuple(expected.shape)}, got {shape}{sep}{hint}"
        )
    if expected.is_floating_point() and not got.is_floating_point():
        raise ExerciseCheckError(
            f"the answer must hold real numbers (a float tensor), got {got.dtype}."
        )
    return got.detach().to(expected.dtype)


# --- answers that hand the exercise to the library ------------------------------------


def _attributes(
    modules: list[ModuleType], names: set[str]
) -> tuple[list[object], list[ModuleType]]:
    """The attributes ``names`` of ``modules``, and the modules among them."""
    found: list[object] = []
    with warnings.catch_warnings():  # e.g. a deprecated attribute of a module
        warnings.simplefilter("ignore")
        for module in modules:
            for name in names:
                try:
                    value = getattr(module, name, None)
                except Exception:  # noqa: BLE001 - a module's __getattr__, any failure
                    value = None
                if value is not None:
                    found.append(value)
    return found, [value for value in found if isinstance(value, ModuleType)]


def _code_names(code: CodeType) -> tuple[set[str], set[str]]:
    """The global names and the attribute names that a code object, and the
    functions, lambdas and comprehensions nested in it, use."""
    global_names: set[str] = set()
    attribute_names: set[str] = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            global_names.add(str(instruction.argval))
        elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            attribute_names.add(str(instruction.argval))
    for const in code.co_consts:
        if isinstance(const, CodeType):
            more_globals, more_attributes = _code_names(const)
            global_names |= more_globals
            attribute_names |= more_attributes
    return global_names, attribute_names


def _references(fn: object, depth: int = 3) -> tuple[set[str], list[object]]:
    """The names the code of ``fn`` uses and the objects it can reach through them:
    ``fn`` itself, its globals, closure cells and default arguments, the attributes
    of the modules among those (``vae_lib.latent.lerp``), and, down to ``depth``
    calls, the same for the reader's own functions that ``fn`` uses (those defined
    in the same namespace as the first function met)."""
    names: set[str] = set()
    objects: list[object] = []
    seen: set[int] = set()
    todo: list[tuple[object, int]] = [(fn, 0)]
    root_globals: dict[str, Any] | None = None  # the reader's namespace
    while todo:
        item, level = todo.pop()
        if id(item) in seen or level > depth:
            continue
        seen.add(id(item))
        objects.append(item)
        if isinstance(item, functools.partial):
            parts = (item.func, *item.args, *item.keywords.values())
            todo += [(part, level) for part in parts]
            continue
        function = getattr(item, "__func__", item)  # a bound method's function
        if function is not item:
            objects.append(function)
        wrapped = getattr(function, "__wrapped__", None)
        if wrapped is not None:
            todo.append((wrapped, level))
        if not isinstance(function, FunctionType):
            call = vars(type(item)).get("__call__")  # an instance with __call__
            if isinstance(call, FunctionType):
                todo.append((call, level + 1))
            continue
        if root_globals is None:
            root_globals = function.__globals__
        elif function.__globals__ is not root_globals:
            continue  # a library's function, not one of the reader's
        global_names, attribute_names = _code_names(function.__code__)
        names |= global_names | attribute_names
        reached: list[object] = []
        for name in global_names:
            if name in function.__globals__:
                reached.append(function.__globals__[name])
            elif hasattr(builtins, name):
                reached.append(getattr(builtins, name))
        for cell in function.__closure__ or ():
            try:
                reached.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
        reached += list(function.__defaults__ or ())
        reached += list((function.__kwdefaults__ or {}).values())
        modules = [value for value in reached if isinstance(value, ModuleType)]
        for _ in range(3):  # vae_lib.latent.lerp: three attributes deep
            attributes, modules = _attributes(modules, attribute_names)
            reached += attributes
        for value in reached:
            objects.append(value)
            if isinstance(value, (FunctionType, functools.partial)) or callable(value):
                todo.append((value, level + 1))
    return names, objects


def _is_one_of(value: object, forbidden: Sequence[object]) -> object | None:
    """The forbidden object that ``value`` is, wraps or is an instance of, if any."""
    candidates = [
        value,
        getattr(value, "__func__", None),
        getattr(value, "__self__", None),
    ]
    for item in forbidden:
        for candidate in candidates:
            if candidate is None:
                continue
            if candidate is item or (
                isinstance(item, type) and isinstance(candidate, item)
            ):
                return item
    return None


def _refuse_library(
    fn: object,
    instead: str,
    objects: Sequence[object] = (),
    names: Sequence[str] = (),
) -> None:
    """Refuse an answer that is one of the library's ``objects`` or reaches one of
    them (directly, through an alias, a module attribute, a closure, a default
    argument or a helper of the reader's), or whose code uses one of ``names``:
    such an answer does the exercise with the library's code. ``instead`` says what
    to do."""
    used_names, reached = _references(fn)
    used = sorted(used_names & set(names))
    for value in reached:
        item = _is_one_of(value, objects)
        if item is not None:
            module = getattr(item, "__module__", "")
            name = getattr(item, "__qualname__", getattr(item, "__name__", "it"))
            used.append(f"{module}.{name}" if module else name)
    if used:
        raise ExerciseCheckError(
            f"your function uses {', '.join(sorted(set(used)))}, which does the "
            f"exercise for you; {instead}"
        )


# --- Chapter 1, exercise "counting parameters" ----------------------------------------


def _mlp_layers(sizes: Sequence[int], biases: str = "out") -> int:
    """Parameters of fully connected layers between consecutive ``sizes``, with
    biases on each layer's output side ("out"), its input side ("in") or none."""
    return sum(
        a * b + {"out": b, "in": a, "none": 0}[biases] for a, b in pairwise(sizes)
    )


def check_parameter_count(fn: Callable[[int, Sequence[int], int], int]) -> bool:
    """Check ``fn(num_pixels, hidden_dims, latent_dim) -> int`` against vae_lib's MLP
    autoencoder, on four architectures drawn afresh on every call (no hidden layer,
    one, two and three; one or three channels; hidden_dims a tuple or a list)."""
    _refuse_library(
        fn,
        "count the weights and biases with arithmetic, without building layers.",
        objects=(Autoencoder, AutoencoderConfig, count_parameters, torch.nn.Module),
        names=("parameters", "numel", "build_encoder", "build_decoder"),
    )
    generator = _fresh_generator()
    mistakes = {
        "weights only": (
            "you counted the weight matrices but not the biases: each layer also has "
            "one bias per output"
        ),
        "encoder only": (
            "that is the encoder alone; the decoder mirrors it and has parameters of "
            "its own"
        ),
        "biases in": (
            "a layer's biases belong to its outputs, one per output unit: the "
            "decoder's layers end where the encoder's begin"
        ),
        "no code layer": (
            "include the layers into and out of the latent code: the encoder's sizes "
            "are num_pixels, the hidden sizes, then latent_dim"
        ),
    }
    explained: list[set[str]] = []
    wrong: list[str] = []
    for num_hidden in torch.randperm(4, generator=generator).tolist():
        channels = (1, 3)[_randint(generator, 0, 1)]
        height, width = _randint(generator, 2, 28), _randint(generator, 2, 28)
        hidden = tuple(_randint(generator, 2, 300) for _ in range(num_hidden))
        latent = _randint(generator, 1, 32)
        num_pixels = channels * height * width
        with torch.device("meta"):  # only the shapes: nothing allocated
            model = Autoencoder(
                AutoencoderConfig(
                    image_shape=(channels, height, width),
                    hidden_dims=hidden,
                    latent_dim=latent,
                )
            )
        expected = count_parameters(model)
        hidden_dims: Sequence[int] = list(hidden) if num_hidden % 2 else hidden
        copy = list(hidden_dims)
        got = fn(num_pixels, hidden_dims, latent)
        _unchanged([list(hidden_dims)], [copy])
        if not _is_python_int(got):
            raise ExerciseCheckError(
                "return the number of parameters as a Python int, got "
                f"{type(got).__name__}"
            )
        if got == expected:
            continue
        sizes = [num_pixels, *hidden, latent]
        encoder = _mlp_layers(sizes)
        candidates = {
            "weights only": 2 * _mlp_layers(sizes, "none"),
            "encoder only": encoder,
            "biases in": 2 * encoder,
            "no code layer": 2 * _mlp_layers(sizes[:-1]),
        }
        explained.append({name for name, value in candidates.items() if got == value})
        wrong.append(
            f"num_pixels={num_pixels}, hidden_dims={hidden_dims!r}, latent_dim={latent}"
        )
    if not wrong:
        return _passed(
            "your count matches the autoencoder's parameters on four architectures "
            "drawn for this check."
        )
    _raise_common_mistake(explained, mistakes)
    raise ExerciseCheckError(
        f"not yet: the count is wrong for {len(wrong)} of 4 architectures, e.g. "
        f"{wrong[0]}. A fully connected layer from a to b units has a * b weights and "
        "b biases; add them up over the encoder's layers and the decoder's."
    )


# --- Chapter 1, exercise "walking between two codes" ----------------------------------


def _two_codes(
    generator: torch.Generator, dim: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two codes of size ``dim`` with different norms, at an angle of at least about
    15 degrees from each other and from pointing in opposite directions."""
    while True:
        z_a, z_b = torch.randn(2, dim, generator=generator, dtype=torch.float64)
        z_a = z_a / z_a.norm() * _uniform(generator, 1.2, 2.0)
        z_b = z_b / z_b.norm() * _uniform(generator, 2.0, 4.0)
        cosine = float((z_a @ z_b / (z_a.norm() * z_b.norm())).item())
        if dim == 1 or -0.96 < cosine < 0.96:
            return z_a.to(dtype), z_b.to(dtype)


def _path_cases(generator: torch.Generator) -> list[tuple[int, int, torch.dtype]]:
    """(size of the codes, steps, dtype): two steps, and random ones; the size never
    equals the number of steps, so that a transposed path has the wrong shape."""
    cases = []
    for steps, dtype in (
        (2, torch.float32),
        (_randint(generator, 3, 12), torch.float32),
        (_randint(generator, 3, 12), torch.float64),
    ):
        dim = _randint(generator, 2, 15)
        cases.append((dim + (dim >= steps), steps, dtype))
    return cases


def _check_path(
    fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
    path: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
    wrong: str,
    hint: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int], str],
    one_dimensional: bool = True,
) -> None:
    """Compare ``fn(start, end, steps)`` with ``path`` (computed in float64) on codes
    and step counts drawn afresh; on the first mismatch, say what is ``wrong`` and add
    ``hint(got, expected, start, end, steps)``."""
    generator = _fresh_generator()
    cases = _path_cases(generator)
    if one_dimensional:
        cases.append((1, _randint(generator, 3, 12), torch.float32))
    for dim, steps, dtype in cases:
        start, end = _two_codes(generator, dim, dtype)
        copies = [start.clone(), end.clone()]
        got = fn(start, end, steps)
        _unchanged([start, end], copies)
        expected = path(start.double(), end.double(), steps)
        got = _shaped_like(
            got,
            expected,
            f"with codes of size {dim} and {steps} steps the answer must be shaped",
        )
        tolerance = 1e-5 if dtype == torch.float32 else 1e-6
        if not torch.allclose(got, expected, rtol=tolerance, atol=tolerance):
            extra = hint(got, expected, start.double(), end.double(), steps)
            raise ExerciseCheckError(f"not yet: {wrong}.{extra}")


def _straight(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]
    return z0 + t * (z1 - z0)


def check_interpolation(
    fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
) -> bool:
    """Check ``fn(z0 (d,), z1 (d,), num_steps) -> (num_steps, d)``: evenly spaced,
    both ends included; on codes, sizes and step counts drawn afresh on every
    call."""
    from .latent import lerp, slerp

    _refuse_library(
        fn,
        "write the path yourself from z0, z1 and evenly spaced t.",
        objects=(lerp, slerp),
    )

    def hint(
        got: torch.Tensor,
        expected: torch.Tensor,
        z0: torch.Tensor,
        z1: torch.Tensor,
        steps: int,
    ) -> str:
        if torch.allclose(got, expected.flip(0), atol=1e-5):
            return " Your path runs from z1 to z0; start at z0."
        t = torch.arange(steps, dtype=z0.dtype)[:, None] / steps
        if torch.allclose(got, z0 + t * (z1 - z0), atol=1e-5):
            return (
                " The last row should be z1 itself: use steps t = 0, 1/(n-1), ..., 1 "
                "(torch.linspace), not arange."
            )
        if torch.allclose(got, z0 + _straight(z0 * 0, z1, steps), atol=1e-5):
            return " Each row is z0 + t (z1 - z0): move along the difference z1 - z0."
        return " Row i is z0 + t_i (z1 - z0), with t_i going evenly from 0 to 1."

    _check_path(
        fn,
        _straight,
        "the rows are not z0 + t (z1 - z0) for evenly spaced t in [0, 1]",
        hint,
    )
    return _passed(
        "your path starts at z0, ends at z1 and takes even steps, on codes drawn for "
        "this check."
    )


# --- Chapter 2, exercise "the importance-weighted bound" ------------------------------


def check_iwae_bound(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(log_weights (K, B)) -> (B,)``: log (1/K) sum_k exp(log_weights[k]),
    computed stably; on log weights drawn afresh on every call, for several K (one
    of them 1) and batch sizes, moderate ones in float32 and ones near -1000 in
    float64."""
    from . import bounds

    _refuse_library(
        fn,
        "write the log-mean-exp yourself (torch.logsumexp is fine).",
        objects=(
            bounds.iwae_from_log_weights,
            bounds.iwae_bound,
            bounds.log_likelihood_estimate,
        ),
    )
    generator = _fresh_generator()
    cases = [
        (_randint(generator, 2, 10), torch.float32, 0.0),
        (_randint(generator, 11, 64), torch.float64, -1000.0),
        (_randint(generator, 2, 64), torch.float64, -1000.0),
        (1, torch.float64, -1000.0),
    ]
    for num_samples, dtype, shift in cases:
        batch = _randint(generator, 1, 7)
        batch += batch >= num_samples  # never K: reducing the wrong way changes shape
        spread = _uniform(generator, 0.5, 5.0)
        # each example its own level: near -1000 give or take a few hundred
        level = (
            shift
            - 3
            + (shift != 0)
            * 100
            * torch.randn(batch, generator=generator, dtype=torch.float64)
        )
        log_weights = (
            level
            + spread
            * torch.randn(num_samples, batch, generator=generator, dtype=torch.float64)
        ).to(dtype)
        copy = log_weights.clone()
        got = fn(log_weights)
        _unchanged([log_weights], [copy])
        w = log_weights.double()
        expected = torch.logsumexp(w, dim=0) - math.log(num_samples)
        got = _shaped_like(
            got,
            expected,
            "the answer must be one bound per example, shaped",
            " reduce over the K samples (dimension 0).",
            sep=":",
        )
        tolerance = 1e-5 if dtype == torch.float32 else 1e-9
        if torch.allclose(got, expected, rtol=tolerance, atol=tolerance):
            continue
        if not torch.isfinite(got).all():
            raise ExerciseCheckError(
                "not yet: with log weights near -1000 your answer is not finite: "
                "exp() underflows to 0. Use torch.logsumexp, which subtracts the "
                "largest value first."
            )
        hints = [
            (
                w.mean(dim=0),
                (
                    "that is the average of the log weights, the ELBO; IWAE takes "
                    "the log of the average weight"
                ),
            ),
            (
                torch.logsumexp(w, dim=0),
                "you forgot to divide by K: subtract log K after the logsumexp",
            ),
            (torch.logsumexp(w, dim=0) - num_samples, "subtract log K, not K"),
            (w.max(dim=0).values, "that is the largest log weight, not the average"),
        ]
        _raise_hinted(
            got,
            hints,
            rtol=tolerance,
            atol=tolerance,
            otherwise=(
                "not yet: the values differ from log (1/K) sum_k exp(log w_k), with K"
                " the number of rows of log_w."
            ),
        )
    return _passed(
        "your bound is log-mean-exp of the weights and stays finite for very "
        "negative log weights, on log weights drawn for this check."
    )


# --- Chapter 4, exercise "spherical interpolation" ------------------------------------


def _spherical(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """The great circle between the directions of z_a and z_b (not parallel), the
    norm linear from |z_a| to |z_b|."""
    t = torch.linspace(0, 1, steps, dtype=z_a.dtype)[:, None]
    norm_a, norm_b = z_a.norm(), z_b.norm()
    u_a, u_b = z_a / norm_a, z_b / norm_b
    omega = torch.arccos((u_a @ u_b).clamp(-1, 1))
    direction = (
        torch.sin((1 - t) * omega) * u_a + torch.sin(t * omega) * u_b
    ) / torch.sin(omega)
    return direction * ((1 - t) * norm_a + t * norm_b)


def check_slerp(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """Check ``fn(z_a (d,), z_b (d,), steps) -> (steps, d)``: spherical interpolation
    with the norm changing linearly, on codes, sizes and step counts drawn afresh on
    every call."""
    from .latent import slerp

    _refuse_library(
        fn,
        "write the spherical path yourself from the formula of Section 4.3.",
        objects=(slerp,),
    )

    def hint(
        got: torch.Tensor,
        expected: torch.Tensor,
        z_a: torch.Tensor,
        z_b: torch.Tensor,
        steps: int,
    ) -> str:
        norms, wanted = got.norm(dim=1), expected.norm(dim=1)
        if torch.allclose(got, _straight(z_a, z_b, steps), atol=1e-4):
            return (
                " That is the straight line (lerp): move along the great circle "
                "between the directions instead."
            )
        if torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
            return (
                " Your codes all have norm 1: scale each direction by the norm "
                "interpolated from |z_a| to |z_b|."
            )
        if torch.allclose(got / norms[:, None], expected / wanted[:, None], atol=1e-4):
            return (
                " The directions are right but the norms are not: interpolate the "
                "norm linearly, |z_a| to |z_b|."
            )
        if not torch.allclose(got[0], z_a, atol=1e-4) or not torch.allclose(
            got[-1], z_b, atol=1e-4
        ):
            return (
                " The path must start at z_a and end at z_b (use t = "
                "torch.linspace(0, 1, steps))."
            )
        return (
            " The ends are right; in between, the direction should turn at a constant "
            "rate, with the weights sin((1 - t) omega) / sin omega and "
            "sin(t omega) / sin omega."
        )

    _check_path(
        fn,
        _spherical,
        "the codes differ from the spherical path",
        hint,
        one_dimensional=False,
    )
    return _passed(
        "your path follows the great circle and its norms change linearly from |z_a| "
        "to |z_b|, on codes drawn for this check."
    )


# --- Chapter 4, exercise "what a latent integer costs" --------------------------------


def _cell_bits(k: torch.Tensor, step: float) -> torch.Tensor:
    """-log2 of N(0, 1)'s mass on [(k - 1/2) step, (k + 1/2) step], in float64, via
    the cell of -|k| (same mass by symmetry) and erfc, which keeps its precision in
    the tail."""
    edges = (
        (k.abs().double() + torch.tensor([[-0.5], [0.5]], dtype=torch.float64))
        * step
        / math.sqrt(2)
    )
    return -torch.log2(
        0.5 * (torch.special.erfc(edges[0]) - torch.special.erfc(edges[1]))
    )


def check_code_length(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(k (n,) integers, step) -> bits (n,)``: -log2 of N(0, 1)'s mass on
    [(k-1/2)step, (k+1/2)step]; on integers and steps drawn afresh on every call,
    always with 0 and with integers far in both tails (where the difference of two
    cdf values near 1 rounds to 0 in float32)."""
    from .compression import LatentCodec, PCACodec

    _refuse_library(
        fn,
        "compute the cell's probability yourself.",
        objects=(LatentCodec, PCACodec),
        names=("code_bits",),
    )
    generator = _fresh_generator()
    for _ in range(3):
        step = _uniform(generator, 0.1, 2.0)
        small = torch.randint(-3, 4, (_randint(generator, 3, 8),), generator=generator)
        # far in the tails: the cell's nearer edge 5.5 to 7 standard deviations out
        far = [math.ceil(_uniform(generator, 5.5, 7.0) / step + 0.5) for _ in range(2)]
        k = torch.cat([small, torch.tensor([0, far[0], -far[1]])])
        k = k[torch.randperm(len(k), generator=generator)]
        copy = k.clone()
        got = fn(k, step)
        _unchanged([k], [copy])
        expected = _cell_bits(k, step)
        got = _shaped_like(
            got,
            expected,
            "the answer must be one number per integer, shaped",
        )
        if torch.allclose(got, expected, rtol=1e-3, atol=1e-3):
            continue
        infinite = ~torch.isfinite(got)
        if infinite.any() and not (k[infinite] > 0).all():
            raise ExerciseCheckError(
                "not yet: some code lengths are not finite, i.e. a cell's probability "
                "came out 0: check the cell's edges, (k - 1/2) step and (k + 1/2) step."
            )
        if infinite.any():
            raise ExerciseCheckError(
                "not yet: some code lengths are not finite. Far in the upper tail "
                "cdf((k + 1/2) step) - cdf((k - 1/2) step) subtracts two numbers that "
                "round to 1 in float32; the cell of k has the same probability as the "
                "cell of -|k|, where nothing cancels."
            )
        density = -torch.distributions.Normal(0.0, 1.0).log_prob(k.double() * step)
        hints = [
            (
                expected * math.log(2),
                (
                    "those are nats: divide the natural log by log 2 (or use "
                    "torch.log2) to get bits"
                ),
            ),
            (
                density / math.log(2),
                (
                    "you used the density at k * step; a code is sent for the whole "
                    "cell, so use its probability mass, Phi((k + 1/2) step) - "
                    "Phi((k - 1/2) step)"
                ),
            ),
            (
                -expected,
                (
                    "a code length is -log2 of a probability, a positive number: "
                    "check the sign"
                ),
            ),
            (
                expected + 2,
                "leave out the arithmetic coder's 2 bits of overhead",
            ),
        ]
        _raise_hinted(
            got,
            hints,
            rtol=1e-3,
            atol=1e-3,
            otherwise=(
                "not yet: the code lengths differ from -log2 P(k), P(k) the prior's "
                "mass on the cell [(k - 1/2) step, (k + 1/2) step]; check the tails "
                "too."
            ),
        )
    return _passed(
        "each integer costs -log2 of the prior's mass on its cell, on integers and "
        "steps drawn for this check."
    )


# --- Chapter 5, exercise "PSNR" -------------------------------------------------------


def _image_shapes(
    generator: torch.Generator, max_side: int = 12
) -> list[tuple[int, int, int, int]]:
    """(B, C, H, W) for one channel, three and two to four, sizes drawn at random;
    one batch may hold a single image, the others hold two to five."""
    shapes = []
    for channels, fewest in ((1, 2), (3, 2), (_randint(generator, 2, 4), 1)):
        shapes.append(
            (
                _randint(generator, fewest, 5),
                channels,
                _randint(generator, 2, max_side),
                _randint(generator, 2, max_side),
            )
        )
    return shapes


def check_psnr(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(x_hat, x) -> (B,)``: 10 log10(1 / MSE) per image, for images
    (B, C, H, W) in [0, 1]; on batches drawn afresh on every call, with one, three
    and a random number of channels, sizes drawn at random and errors that differ
    from image to image and from channel to channel."""
    from .metrics import psnr

    _refuse_library(
        fn,
        "write the PSNR yourself from the mean squared error.",
        objects=(psnr,),
        names=("peak_signal_noise_ratio", "PeakSignalNoiseRatio"),
    )
    generator = _fresh_generator()
    for batch, channels, height, width in _image_shapes(generator):
        x = torch.rand(batch, channels, height, width, generator=generator)
        noise = 0.02 + 0.3 * torch.rand(batch, channels, 1, 1, generator=generator)
        x_hat = (x + noise * torch.randn(x.shape, generator=generator)).clamp(0, 1)
        copies = [x_hat.clone(), x.clone()]
        got = fn(x_hat, x)
        _unchanged([x_hat, x], copies)
        squared = (x_hat.double() - x.double()) ** 2
        mse = squared.flatten(1).mean(dim=1)
        expected = -10 * torch.log10(mse)
        got = _shaped_like(
            got,
            expected,
            "the answer must be one PSNR per image, shaped",
            " average the squared error over each image's channels and pixels.",
            sep=":",
        )
        if torch.allclose(got, expected, rtol=1e-5, atol=1e-3):
            continue
        hints = [
            (
                2 * expected,
                (
                    "MSE is already a squared error: use 10 log10, not 20 log10 (that "
                    "is for the root-mean-square error)"
                ),
            ),
            (
                -10 * torch.log(mse),
                "use log10, not the natural log: decibels are tenths of a power of ten",
            ),
            (
                torch.full_like(mse, -10 * math.log10(squared.mean().item())),
                (
                    "average the squared error over each image's pixels only, keeping "
                    "one PSNR per image"
                ),
            ),
            (
                -10 * torch.log10(squared[:, :1].flatten(1).mean(dim=1)),
                (
                    "you scored the first channel only: average the squared error "
                    "over all channels"
                ),
            ),
            (
                -10 * torch.log10(squared.flatten(1).sum(dim=1)),
                "take the mean of the squared errors, not their sum",
            ),
            (
                0.5 * expected,
                "the MSE is the mean of the squared errors; do not take its root",
            ),
            (-expected, "the sign is flipped: PSNR is 10 log10(1 / MSE)"),
            (
                expected + 20 * math.log10(255),
                "the images are in [0, 1], so the peak value is 1, not 255",
            ),
        ]
        _raise_hinted(
            got,
            hints,
            rtol=1e-5,
            atol=1e-3,
            otherwise=(
                "not yet: the values differ from 10 log10(1 / MSE), with the MSE the "
                "mean squared error over each image's channels and pixels."
            ),
        )
    return _passed(
        "your PSNR matches 10 log10(1 / MSE) image by image, on batches drawn for "
        "this check."
    )


# --- Chapter 5, exercise "the likelihood of a clipped pixel" --------------------------


def _clipped_scene(
    generator: torch.Generator, shape: tuple[int, int, int, int], sigma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """y with black and white pixels in every image, and two reconstructions, each
    within a few sigma of the clipped pixels' ends (where the reconstruction of a
    clipped pixel lies: far beyond, float32 loses the tail mass)."""
    y = torch.rand(shape, generator=generator) * 0.9 + 0.05
    where = torch.rand(shape, generator=generator)
    y[where < 0.2] = 0.0
    y[where > 0.85] = 1.0
    y[:, 0, 0, 0], y[:, -1, -1, -1] = 0.0, 1.0
    reach = min(1.0, 2.5 * sigma)
    reconstructions = []
    for _ in range(2):
        x_hat = torch.rand(shape, generator=generator)
        near = torch.rand(shape, generator=generator) * reach
        x_hat = torch.where(y <= 0, near, torch.where(y >= 1, 1 - near, x_hat))
        reconstructions.append(x_hat)
    return y, reconstructions[0], reconstructions[1]


def _clipped_log_likelihood(
    x_hat: torch.Tensor,
    y: torch.Tensor,
    sigma: float,
    at_zero: Callable[[torch.Tensor, float], torch.Tensor],
    at_one: Callable[[torch.Tensor, float], torch.Tensor],
    each: Callable[[torch.Tensor], torch.Tensor] = torch.positive,
) -> torch.Tensor:
    """Per image, the sum over pixels of ``each`` of: -(y - x_hat)^2 / (2 sigma^2)
    inside (0, 1), ``at_zero(x_hat, sigma)`` at black pixels, ``at_one(x_hat,
    sigma)`` at white ones."""
    inside = -0.5 * ((y - x_hat) / sigma) ** 2
    per_pixel = torch.where(
        y <= 0, at_zero(x_hat, sigma), torch.where(y >= 1, at_one(x_hat, sigma), inside)
    )
    return each(per_pixel).flatten(1).sum(dim=1)


def _below(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.special.log_ndtr(-x / sigma)


def _above(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.special.log_ndtr((x - 1) / sigma)


def _at(target: float) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """The plain Gaussian's log-density at a clipped pixel, as if observed there."""
    return lambda x, sigma: -0.5 * ((target - x) / sigma) ** 2


_CLIPPED_MISTAKES: list[
    tuple[
        Callable[[torch.Tensor, float], torch.Tensor],
        Callable[[torch.Tensor, float], torch.Tensor],
        str,
    ]
] = [
    (
        _at(0.0),
        _at(1.0),
        (
            "that is the plain Gaussian: a pixel at exactly 0 (or 1) only tells you "
            "that x_hat + noise fell below 0 (above 1), so it has probability "
            "Phi(-x_hat / sigma) (or Phi((x_hat - 1) / sigma))"
        ),
    ),
    (
        _below,
        _at(1.0),
        (
            "the black pixels are right; a white pixel (exactly 1) has probability "
            "Phi((x_hat - 1) / sigma) too"
        ),
    ),
    (
        _at(0.0),
        _above,
        (
            "the white pixels are right; a black pixel (exactly 0) has probability "
            "Phi(-x_hat / sigma) too"
        ),
    ),
    (
        _above,
        _below,
        (
            "the two ends are swapped: a black pixel has probability "
            "Phi(-x_hat / sigma), the mass below 0"
        ),
    ),
    (
        lambda x, sigma: torch.special.ndtr(-x / sigma),
        lambda x, sigma: torch.special.ndtr((x - 1) / sigma),
        (
            "at the clipped pixels you added probabilities; add their logarithms, "
            "like the log-density of the others"
        ),
    ),
    (
        lambda x, sigma: torch.special.log_ndtr(x / sigma),
        lambda x, sigma: torch.special.log_ndtr((1 - x) / sigma),
        (
            "the mass beyond the end is on the wrong side: a black pixel has "
            "probability P(x_hat + sigma eps <= 0) = Phi(-x_hat / sigma)"
        ),
    ),
]


def check_clipped_gaussian(
    fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
) -> bool:
    """Check ``fn(x_hat, y, sigma) -> (B,)``: log-likelihood of
    y = clip(x_hat + sigma eps, 0, 1), up to a constant that does not depend on x_hat
    (compared through differences between two x_hat for the same y and sigma); on
    images, sigmas and reconstructions drawn afresh on every call."""
    from . import corrupt

    _refuse_library(
        fn,
        "write the log-likelihood yourself (torch.special.log_ndtr is fine).",
        objects=(
            corrupt.ClippedGaussianNoise,
            corrupt.BlindClippedGaussianNoise,
            corrupt._clipped_gaussian_log_prob,
        ),
    )
    generator = _fresh_generator()
    for shape in _image_shapes(generator, max_side=8):
        sigma = _uniform(generator, 0.1, 0.8)
        y, a, b = _clipped_scene(generator, shape, sigma)
        results = []
        for x_hat in (a, b):
            copies = [x_hat.clone(), y.clone()]
            got = fn(x_hat, y, sigma)
            _unchanged([x_hat, y], copies)
            results.append(
                _shaped_like(
                    got,
                    y[:, 0, 0, 0].double(),
                    "the answer must be one log-likelihood per image, shaped",
                )
            )
        got = results[0] - results[1]
        a, b, y = a.double(), b.double(), y.double()

        def difference(
            zero: Callable[[torch.Tensor, float], torch.Tensor],
            one: Callable[[torch.Tensor, float], torch.Tensor],
            a: torch.Tensor = a,
            b: torch.Tensor = b,
            y: torch.Tensor = y,
            sigma: float = sigma,
        ) -> torch.Tensor:
            return _clipped_log_likelihood(
                a, y, sigma, zero, one
            ) - _clipped_log_likelihood(b, y, sigma, zero, one)

        # sums in float32: a tolerance relative to the size of the terms summed
        size = sum(
            _clipped_log_likelihood(x_hat, y, sigma, _below, _above, torch.abs)
            for x_hat in (a, b)
        )
        tolerance = 1e-5 * size + 1e-4
        if ((got - difference(_below, _above)).abs() <= tolerance).all():
            continue
        for zero, one, hint in _CLIPPED_MISTAKES:
            if ((got - difference(zero, one)).abs() <= tolerance).all():
                raise ExerciseCheckError(f"not yet: {hint}.")
        raise ExerciseCheckError(
            "not yet: differences between two x_hat do not match the clipped "
            "Gaussian's: a pixel inside (0, 1) has log-density -(y - x_hat)^2 / "
            "(2 sigma^2) + const, a black one log Phi(-x_hat / sigma), a white one "
            "log Phi((x_hat - 1) / sigma); use the sigma you are given."
        )
    return _passed(
        "black and white pixels get the probability mass beyond them, the others the "
        "Gaussian density, on images and sigmas drawn for this check."
    )


# --- Chapter 6, exercise "PSNR on the missing pixels" ---------------------------------


def check_missing_psnr(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> bool:
    """Check ``fn(whole_psnr (B,), num_pixels, num_missing) -> missing_psnr (B,)`` when
    observed pixels are exact; on PSNRs, image sizes and hole sizes drawn afresh on
    every call (one hole the whole image)."""
    generator = _fresh_generator()
    cases = []
    for index in range(4):
        channels = (1, 3)[_randint(generator, 0, 1)]
        num_pixels = channels * _randint(generator, 4, 64) * _randint(generator, 4, 64)
        num_missing = num_pixels if index == 3 else _randint(generator, 1, num_pixels)
        dtype = torch.float64 if index == 1 else torch.float32
        cases.append((num_pixels, num_missing, dtype))
    for num_pixels, num_missing, dtype in cases:
        batch = _randint(generator, 1, 6)
        whole = (5 + 35 * torch.rand(batch, generator=generator)).to(dtype)
        copy = whole.clone()
        got = fn(whole, num_pixels, num_missing)
        _unchanged([whole], [copy])
        w = whole.double()
        ratio = num_pixels / num_missing
        expected = w - 10 * math.log10(ratio)
        got = _shaped_like(
            got, expected, "the answer must be one PSNR per image, shaped"
        )
        if torch.allclose(got, expected, rtol=0, atol=1e-4):
            continue
        observed = num_pixels - num_missing
        hints = [
            (
                w + 10 * math.log10(ratio),
                (
                    "the error concentrates on fewer pixels, so their mean squared "
                    "error is larger and their PSNR lower: subtract"
                ),
            ),
            (
                w - 20 * math.log10(ratio),
                "PSNR uses 10 log10 of a ratio of mean squared errors, not 20 log10",
            ),
            (
                w - 10 * math.log(ratio),
                "use log10, not the natural log: decibels are tenths of a power of ten",
            ),
            (
                w - math.log10(ratio),
                "a ratio of powers of ten is 10 log10 decibels: multiply by 10",
            ),
            (
                w - 10 * math.log10(num_pixels // num_missing),
                "D / M is a real number: do not round it (// is integer division)",
            ),
        ]
        if observed:
            hints.append(
                (
                    w - 10 * math.log10(num_pixels / observed),
                    (
                        "the squared error lives on the M missing pixels, not on the "
                        "D - M observed ones"
                    ),
                )
            )
        _raise_hinted(
            got,
            hints,
            rtol=0,
            atol=1e-4,
            otherwise=(
                "not yet: the values differ from the whole-image PSNR corrected for "
                "the number of pixels that carry the error. Write both MSEs with the "
                "same sum of squared errors E and compare."
            ),
        )
    return _passed(
        "the missing pixels' PSNR is the whole image's minus 10 log10(D / M), on PSNRs "
        "and hole sizes drawn for this check."
    )


# --- Chapter 6, exercise "the Metropolis-within-Gibbs acceptance ratio" ---------------


def check_mwg_log_ratio(fn: Callable[..., torch.Tensor]) -> bool:
    """Check
    ``fn(log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old) -> log rho`` (B,):
    the log acceptance ratio of Metropolis-within-Gibbs, before the min, with
    log p(x | z) terms, codes (B, d) and the proposal's log densities
    log q(z_new | x), log q(z_old | x); on values, batch sizes and code sizes drawn
    afresh on every call."""
    generator = _fresh_generator()
    cases = [
        (torch.float32, 1),
        (torch.float32, _randint(generator, 2, 16)),
        (torch.float64, _randint(generator, 2, 16)),
    ]
    for dtype, dim in cases:
        batch = _randint(generator, 2, 6)

        def draw(
            *shape: int, scale: float = 1.0, shift: float = 0.0, dtype=dtype
        ) -> torch.Tensor:
            values = torch.randn(*shape, generator=generator, dtype=torch.float64)
            return (values * scale + shift).to(dtype)

        log_px_new, log_px_old = (draw(batch, scale=100, shift=-400) for _ in range(2))
        # one proposal far more likely than the current code, one far less
        log_px_new[0], log_px_new[1] = log_px_old[0] + 200, log_px_old[1] - 200
        z_new, z_old = (draw(batch, dim, scale=1.5) for _ in range(2))
        log_q_new, log_q_old = (draw(batch, scale=3, shift=-dim) for _ in range(2))
        args = (log_px_new, log_px_old, z_new, z_old, log_q_new, log_q_old)
        copies = [a.clone() for a in args]
        got = fn(*args)
        _unchanged(args, copies)
        px_new, px_old, zn, zo, q_new, q_old = (a.double() for a in args)
        prior_new = -0.5 * zn.pow(2).sum(dim=1)
        prior_old = -0.5 * zo.pow(2).sum(dim=1)
        target = px_new + prior_new - px_old - prior_old
        proposal = q_old - q_new
        expected = target + proposal
        got = _shaped_like(
            got, expected, "the answer must be one log ratio per image, shaped"
        )
        tolerance = 2e-3 if dtype == torch.float32 else 1e-8
        if torch.allclose(got, expected, rtol=0, atol=tolerance):
            continue
        hints = [
            (
                target - proposal,
                (
                    "the proposal terms are the wrong way round: the move to z_new is "
                    "proposed with q(z_new | x), so it divides"
                ),
            ),
            (
                target,
                (
                    "the proposal is not symmetric: include log q(z_old | x) - log "
                    "q(z_new | x)"
                ),
            ),
            (
                px_new - px_old + proposal,
                (
                    "the target is the joint p(x, z) = p(x | z) p(z): include the "
                    "prior log N(z; 0, I)"
                ),
            ),
            (
                px_new - prior_new - px_old + prior_old + proposal,
                (
                    "the prior's log-density is -|z|^2 / 2 (plus a constant): mind "
                    "the sign"
                ),
            ),
            (
                px_new + 2 * prior_new - px_old - 2 * prior_old + proposal,
                "the prior's log-density is -|z|^2 / 2: keep the 1/2",
            ),
            (-expected, "new and old are swapped: the ratio is new over old"),
            (expected.clamp(max=0), "give the log ratio before the min with 0"),
        ]
        for wrong, hint in hints:
            if torch.allclose(got, wrong, rtol=0, atol=tolerance, equal_nan=True):
                raise ExerciseCheckError(f"not yet: {hint}.")
        # the ratio itself, overflowing where the answer's dtype does
        if torch.allclose(got, expected.to(dtype).exp().double(), rtol=1e-3):
            raise ExerciseCheckError(
                "not yet: return the logarithm of the ratio, not the ratio."
            )
        raise ExerciseCheckError(
            "not yet: the values differ from log p(x, z_new) - log p(x, z_old) + "
            "log q(z_old | x) - log q(z_new | x), with p(x, z) = p(x | z) N(z; 0, I)."
        )
    return _passed(
        "target ratio times reverse-over-forward proposal ratio, in logs, on values "
        "drawn for this check."
    )


# --- Chapter 7, exercise "a fixed variance is a beta" ---------------------------------


def check_equivalent_beta(fn: Callable[[float], float]) -> bool:
    """Check ``fn(sigma) -> beta``, a Python number: the KL weight of a beta-VAE
    trained on summed squared error that has the same optimum as a VAE with a
    Gaussian p(x|z) of fixed standard deviation ``sigma``; on five sigmas drawn
    afresh on every call, from 0.01 to 3."""
    generator = _fresh_generator()
    for _ in range(5):
        sigma = math.exp(_uniform(generator, math.log(0.01), math.log(3.0)))
        got = fn(sigma)
        if isinstance(got, torch.Tensor):
            raise ExerciseCheckError(
                "return beta as a Python number, got a tensor (use .item())."
            )
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise ExerciseCheckError(
                f"return beta as a Python number, got {type(got).__name__}."
            )
        expected = 2 * sigma**2
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        hints = [
            (
                sigma**2,
                (
                    "the Gaussian's exponent is ||x - mu||^2 / (2 sigma^2): multiply "
                    "the loss by 2 sigma^2, not sigma^2"
                ),
            ),
            (
                1 / (2 * sigma**2),
                (
                    "that is the weight of the squared error relative to the KL; beta "
                    "weighs the KL relative to the squared error"
                ),
            ),
            (2 * sigma, "the variance, not the standard deviation, sets the weight"),
            (
                math.sqrt(2) * sigma,
                "the variance, not the standard deviation, sets the weight",
            ),
            (
                4 * sigma**2,
                "the Gaussian's exponent has a 2 sigma^2 below, not 4 sigma^2",
            ),
        ]
        for wrong, hint in hints:
            if math.isclose(got, wrong, rel_tol=1e-6):
                raise ExerciseCheckError(f"not yet: {hint}.")
        raise ExerciseCheckError(
            "not yet: beta is wrong for sigmas drawn for this check. Multiply the "
            "Gaussian VAE's objective by a constant so that the squared error has "
            "weight 1; what multiplies the KL then is beta."
        )
    return _passed(
        "beta = 2 sigma^2: a smaller fixed variance is a smaller beta, sharper "
        "reconstructions and a higher rate."
    )


# --- Chapter 7, exercise "where the tiles start" --------------------------------------


def _tile_cases(generator: torch.Generator) -> list[tuple[int, int, int]]:
    """(length, tile, overlap), in random order: one tile exactly, steps that land
    on the end, steps that miss it, no overlap, the largest overlap, and two random
    ones."""
    cases = []
    for kind in ("one tile", "lands", "misses", "none", "largest", "any", "any"):
        tile = _randint(generator, 2, 64)
        if kind == "none":
            overlap = 0
        elif kind == "largest":
            overlap = tile - 1
        else:  # a step of at least 2 pixels where the steps must miss the end
            overlap = _randint(generator, 0, tile - (2 if kind == "misses" else 1))
        step = tile - overlap
        steps = _randint(generator, 1, 40 if step > 1 else 60)
        if kind == "one tile":
            length = tile
        elif kind == "lands":
            length = tile + steps * step
        elif kind == "misses":
            length = tile + steps * step - _randint(generator, 1, step - 1)
        else:
            length = tile + _randint(generator, 0, min(400, 60 * step))
        cases.append((length, tile, overlap))
    order = torch.randperm(len(cases), generator=generator).tolist()
    return [cases[i] for i in order]


def check_tile_starts(fn: Callable[[int, int, int], Sequence[int]]) -> bool:
    """Check ``fn(length, tile, overlap) -> starts``, a list of Python ints: tiles of
    ``tile`` pixels, neighbours overlapping by at least ``overlap``, that cover an
    axis of ``length`` pixels exactly with as few tiles as that allows, none reaching
    past its end; on lengths, tiles and overlaps drawn afresh on every call."""
    from . import tiling

    _refuse_library(
        fn,
        "work out the starts yourself.",
        objects=(tiling.tile_starts, tiling.split_tiles, tiling.restore_by_tiles),
    )
    generator = _fresh_generator()
    for length, tile, overlap in _tile_cases(generator):
        got = fn(length, tile, overlap)
        where = f"for length {length}, tile {tile}, overlap {overlap}"
        if not isinstance(got, (list, tuple)):
            raise ExerciseCheckError(
                f"{where}: the answer must be a list of ints, got {type(got).__name__}."
            )
        if not all(_is_python_int(s) for s in got):
            kinds = sorted({type(s).__name__ for s in got if not _is_python_int(s)})
            raise ExerciseCheckError(
                f"{where}: each start must be a Python int (a pixel index), got "
                f"{', '.join(kinds)}."
            )
        starts = list(got)
        if not starts or starts[0] != 0:
            raise ExerciseCheckError(f"{where}: the first tile must start at 0.")
        if starts != sorted(set(starts)):
            raise ExerciseCheckError(
                f"{where}: list each start once, in increasing order."
            )
        if any(s < 0 or s + tile > length for s in starts):
            raise ExerciseCheckError(
                f"{where}: a tile reaches past the end of the axis; the last one "
                "should start at length - tile."
            )
        if any(b - a > tile - overlap for a, b in pairwise(starts)):
            raise ExerciseCheckError(
                f"{where}: neighbours must overlap by at least `overlap` pixels, so "
                "consecutive starts may differ by at most tile - overlap."
            )
        if starts[-1] != length - tile:
            raise ExerciseCheckError(
                f"{where}: the last pixels are not covered. Add a last tile flush with "
                "the end, at length - tile."
            )
        if len(starts) > 1 + math.ceil((length - tile) / (tile - overlap)):
            raise ExerciseCheckError(
                f"{where}: more tiles than needed; step by tile - overlap."
            )
    return _passed(
        "the tiles cover every pixel, overlap enough, and stay inside the image, for "
        "lengths, tiles and overlaps drawn for this check."
    )


# --- Chapter 2, exercise "KL between two diagonal Gaussians" --------------------------


def check_gaussian_kl_diagonal(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(mu_q, logvar_q, mu_p, logvar_p) -> (B,)``, each input (B, d):
    KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))), on Gaussians
    drawn afresh on every call."""
    generator = _fresh_generator()
    for batch, dim in ((5, 3), (4, 6)):
        mu_q, logvar_q, mu_p, logvar_p = (
            torch.randn(batch, dim, generator=generator, dtype=torch.float64)
            for _ in range(4)
        )
        inputs = (mu_q, logvar_q, mu_p, logvar_p)
        copies = [t.clone() for t in inputs]
        got = fn(*inputs)
        _unchanged(inputs, copies)
        var_q, var_p = logvar_q.exp(), logvar_p.exp()
        delta = (mu_q - mu_p) ** 2

        def kl(log_ratio, ratio, mean_term):
            return 0.5 * (log_ratio + ratio + mean_term - 1).sum(dim=1)

        expected = kl(logvar_p - logvar_q, var_q / var_p, delta / var_p)
        hint = (
            " Sum over the latent dimensions only, keeping one value per example."
            if isinstance(got, torch.Tensor) and got.dim() == 0
            else ""
        )
        got = _shaped_like(
            got, expected, "the answer must be one KL per example, shaped", hint
        )
        if torch.allclose(got, expected, rtol=1e-6, atol=1e-9):
            continue
        hints = [
            (
                kl(logvar_q - logvar_p, var_p / var_q, delta / var_q),
                (
                    "that is KL(p || q), the other direction: the expectation is "
                    "under q, so q's variance goes in the numerator"
                ),
            ),
            (
                0.5 * (mu_q**2 + var_q - 1 - logvar_q).sum(dim=1),
                (
                    "that is the KL against N(0, I) of Section 2.5; here p has its "
                    "own mean and variance"
                ),
            ),
            (
                kl(logvar_p - logvar_q, var_q / var_p, delta),
                "the squared mean difference must be divided by p's variance too",
            ),
            (
                kl(logvar_q - logvar_p, var_q / var_p, delta / var_p),
                (
                    "the log term has the wrong sign: log q - log p contributes "
                    "-1/2 log s_q^2 + 1/2 log s_p^2"
                ),
            ),
            (
                kl(2 * (logvar_p - logvar_q), (var_q / var_p) ** 2, delta / var_p**2),
                "you treated logvar as log(s); it is log(s^2), so s^2 = exp(logvar)",
            ),
            (2 * expected, "you dropped the factor 1/2 in front of the sum"),
            (-expected, "the sign is flipped: a KL divergence is never negative"),
        ]
        for wrong, message in hints:
            if torch.allclose(got, wrong, rtol=1e-6, atol=1e-9, equal_nan=True):
                raise ExerciseCheckError(f"not yet: {message}.")
        raise ExerciseCheckError(
            "the values differ from KL(q || p) for two diagonal Gaussians: take "
            "E_q[log q(z) - log p(z)] one coordinate at a time, using "
            "E_q[(z - mu_p)^2] = (mu_q - mu_p)^2 + s_q^2."
        )
    return _passed(
        "your KL matches KL(q || p) for two diagonal Gaussians, on random Gaussians "
        "drawn for this check."
    )


# --- Chapter 2, exercise "the best diagonal q" ---------------------------------------


def _random_precision(dim: int, generator: torch.Generator) -> torch.Tensor:
    """A random symmetric positive-definite (dim, dim) matrix with clear
    correlations."""
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T + 0.3 * torch.eye(dim, dtype=torch.float64)


def check_mean_field(fn: Callable[[torch.Tensor, torch.Tensor], object]) -> bool:
    """Check ``fn(mean (d,), precision (d, d)) -> (q_mean (d,), q_var (d,))``: the
    diagonal Gaussian q that maximises the ELBO, i.e. minimises KL(q || N(mean,
    precision^-1)); on posteriors drawn afresh on every call."""
    generator = _fresh_generator()
    for dim in (2, 3, 5):
        mean = torch.randn(dim, generator=generator, dtype=torch.float64)
        precision = _random_precision(dim, generator)
        copies = [mean.clone(), precision.clone()]
        answer = fn(mean, precision)
        _unchanged((mean, precision), copies)
        if not isinstance(answer, tuple) or len(answer) != 2:
            raise ExerciseCheckError(
                "return a pair (q_mean, q_var): the diagonal Gaussian's mean and its "
                f"variances, got {type(answer).__name__}"
            )
        q_mean = _shaped_like(answer[0], mean, "q_mean must be shaped")
        q_var = _shaped_like(answer[1], mean, "q_var must be shaped")
        if not torch.allclose(q_mean, mean, rtol=1e-6, atol=1e-9):
            raise ExerciseCheckError(
                "not yet: q's mean is wrong. Set the derivative of KL(q || p) with "
                "respect to q's mean to zero: it is the posterior's own mean."
            )
        expected = 1 / precision.diagonal()
        if torch.allclose(q_var, expected, rtol=1e-6, atol=1e-9):
            continue
        covariance = torch.linalg.inv(precision)
        hints = [
            (
                covariance.diagonal(),
                (
                    "those are the posterior's marginal variances, the diagonal of "
                    "the covariance: they minimise KL(p || q), the other direction. "
                    "In KL(q || p) the precision matrix appears, not the covariance"
                ),
            ),
            (
                precision.diagonal(),
                (
                    "those are the precision's diagonal entries; the variances are "
                    "their reciprocals"
                ),
            ),
            (
                expected.sqrt(),
                "those are standard deviations; q_var should hold variances",
            ),
            (
                1 / covariance.diagonal(),
                "you inverted the covariance's diagonal: use the precision's diagonal",
            ),
        ]
        for wrong, message in hints:
            if torch.allclose(q_var, wrong, rtol=1e-6, atol=1e-9):
                raise ExerciseCheckError(f"not yet: {message}.")
        raise ExerciseCheckError(
            "not yet: the variances are wrong. Write KL(q || p) for q = N(m, diag(v)) "
            "and p with precision matrix P, and set its derivative in v_i to zero."
        )
    return _passed(
        "your q has the posterior's mean and variances 1 / P_ii, on posteriors drawn "
        "for this check."
    )


# --- Chapter 3, exercise "a correlated Gaussian, reparameterised" ---------------------


def _refuse_library_sampler(fn: Callable[..., object]) -> None:
    _refuse_library(
        fn,
        "build z from mu, the covariance and eps yourself.",
        objects=(torch.distributions.MultivariateNormal,),
        names=("reparameterize", "rsample", "MultivariateNormal"),
    )


def check_correlated_sample(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(mu (d,), covariance (d, d), eps (S, d)) -> z (S, d)``: a
    reparameterised draw z = mu + A eps with A A^T = covariance (any such A), with
    gradients reaching mu and the covariance; on Gaussians drawn afresh on every
    call."""
    _refuse_library_sampler(fn)
    generator = _fresh_generator()
    for dim, num_samples in ((2, 7), (3, 5), (5, 9)):
        mu = torch.randn(dim, generator=generator, dtype=torch.float64)
        covariance = torch.linalg.inv(_random_precision(dim, generator))
        eps = torch.randn(num_samples, dim, generator=generator, dtype=torch.float64)
        mu.requires_grad_(True)
        covariance.requires_grad_(True)
        copies = [t.detach().clone() for t in (mu, covariance, eps)]
        got = fn(mu, covariance, eps)
        _unchanged([t.detach() for t in (mu, covariance, eps)], copies)
        z = _shaped_like(got, eps, "z must be shaped like eps,")
        if not torch.isfinite(z).all():
            raise ExerciseCheckError(
                "not yet: the draws contain NaN or inf. An elementwise square root "
                "of Sigma fails on its negative entries; you need a matrix A with "
                "A A^T = Sigma."
            )
        with torch.no_grad():
            origin = fn(mu, covariance, torch.zeros(1, dim, dtype=torch.float64))
            columns = fn(mu, covariance, torch.eye(dim, dtype=torch.float64))
        origin = _shaped_like(origin, mu[None].detach(), "for eps (1, d), z must be")
        if not torch.allclose(origin[0], mu.detach(), atol=1e-9):
            raise ExerciseCheckError(
                "not yet: with eps = 0 the draw should be the mean mu itself."
            )
        # column i of A: where the draw goes for eps = e_i
        A = (_shaped_like(columns, eps[:dim], "z must be shaped") - origin).T
        if not torch.allclose(z, mu.detach() + eps @ A.T, atol=1e-8, equal_nan=True):
            raise ExerciseCheckError(
                "not yet: z should be mu plus a fixed matrix times eps, the same "
                "matrix for every row of eps."
            )
        _check_square_root(A, covariance.detach())
        if not got.requires_grad:
            raise ExerciseCheckError(
                "the values are right but no gradient reaches mu and the covariance: "
                "build z with differentiable operations (no .detach(), no "
                "torch.no_grad())."
            )
        grads = torch.autograd.grad(got.sum(), (mu, covariance), allow_unused=True)
        if any(g is None or not torch.isfinite(g).all() for g in grads):
            raise ExerciseCheckError(
                "z must depend on both mu and the covariance through differentiable "
                "operations, with finite gradients."
            )
    return _passed(
        "z = mu + A eps with A A^T equal to the covariance, and gradients reach mu "
        "and the covariance, on Gaussians drawn for this check."
    )


def _check_square_root(A: torch.Tensor, covariance: torch.Tensor) -> None:
    if torch.allclose(A @ A.T, covariance, atol=1e-8):
        return
    L = torch.linalg.cholesky(covariance)
    hints = [
        (
            covariance,
            (
                "you multiplied eps by the covariance itself; the draws then have "
                "covariance Sigma Sigma^T. Use a matrix A with A A^T = Sigma"
            ),
        ),
        (
            L.T,
            (
                "the matrix is transposed: for rows eps (S, d), z = mu + eps @ A.T, "
                "where A A^T = Sigma"
            ),
        ),
        (
            torch.diag(covariance.diagonal().sqrt()),
            (
                "you used only the standard deviations, so the draws are uncorrelated; "
                "the off-diagonal entries of Sigma must shape them too"
            ),
        ),
        (
            covariance.sqrt(),
            (
                "an elementwise square root is not a matrix square root; you need A "
                "with A A^T = Sigma"
            ),
        ),
    ]
    for wrong, message in hints:
        if torch.allclose(A, wrong, atol=1e-8, equal_nan=True):
            raise ExerciseCheckError(f"not yet: {message}.")
    raise ExerciseCheckError(
        "not yet: the draws do not have covariance Sigma. z = mu + A eps has "
        "covariance A A^T; find an A for which that is Sigma."
    )


# --- Chapter 3, exercise "the straight-through Gumbel estimator" ----------------------


def check_straight_through(fn: Callable[..., torch.Tensor]) -> bool:
    """Check ``fn(logits (S, C), tau, gumbel (S, C)) -> y (S, C)``: forward values the
    one-hot argmax of logits + gumbel, gradient with respect to the logits that of the
    relaxed sample softmax((logits + gumbel) / tau); on inputs drawn afresh."""
    if fn is torch.nn.functional.gumbel_softmax:
        raise ExerciseCheckError(
            "torch.nn.functional.gumbel_softmax draws its own noise; write the "
            "estimator from the logits, tau and the Gumbel noise you are given."
        )
    generator = _fresh_generator()
    for num_samples, num_categories in ((5, 3), (4, 6), (7, 4)):
        tau = 0.2 + 2 * torch.rand(1, generator=generator).item()
        logits = torch.randn(
            num_samples, num_categories, generator=generator, dtype=torch.float64
        )
        u = torch.rand(num_samples, num_categories, generator=generator)
        gumbel = -torch.log(-torch.log(u.double().clamp_min(1e-12)))
        logits.requires_grad_(True)
        copies = [logits.detach().clone(), gumbel.clone()]
        got = fn(logits, tau, gumbel)
        _unchanged([logits.detach(), gumbel], copies)
        y = _shaped_like(got, gumbel, "y must be shaped like the logits,")
        soft = torch.softmax((logits + gumbel) / tau, dim=-1)
        index = (logits + gumbel).argmax(dim=-1)
        hard = torch.nn.functional.one_hot(index, num_categories).to(gumbel.dtype)
        if not torch.allclose(y, hard, atol=1e-9):
            _values_hint(y, soft.detach(), logits.detach(), num_categories)
        if not got.requires_grad:
            raise ExerciseCheckError(
                "the values are one-hot, but no gradient reaches the logits: add a "
                "term whose value is zero and whose gradient is the relaxed sample's."
            )
        weights = torch.randn(
            num_samples, num_categories, generator=generator, dtype=torch.float64
        )
        (grad,) = torch.autograd.grad((got * weights).sum(), logits, allow_unused=True)
        grad = torch.zeros_like(logits) if grad is None else grad
        (expected,) = torch.autograd.grad((soft * weights).sum(), logits)
        if not torch.allclose(grad, expected, atol=1e-8):
            _gradient_hint(grad, expected, weights, logits, gumbel)
    return _passed(
        "one-hot values forward, the relaxed sample's gradient backward, on logits, "
        "temperatures and noise drawn for this check."
    )


def _values_hint(
    y: torch.Tensor, soft: torch.Tensor, logits: torch.Tensor, num_categories: int
) -> None:
    plain = torch.nn.functional.one_hot(logits.argmax(dim=-1), num_categories)
    if torch.allclose(y, soft, atol=1e-9):
        message = (
            "these are the relaxed samples; the forward values must be one-hot (the "
            "argmax), the relaxed sample only shapes the gradient"
        )
    elif torch.allclose(y, plain.to(y.dtype)):
        message = "add the Gumbel noise to the logits before taking the argmax"
    else:
        message = "each row should be the one-hot vector of argmax(logits + gumbel)"
    raise ExerciseCheckError(f"not yet: {message}.")


def _gradient_hint(
    grad: torch.Tensor,
    expected: torch.Tensor,
    weights: torch.Tensor,
    logits: torch.Tensor,
    gumbel: torch.Tensor,
) -> None:
    (untempered,) = torch.autograd.grad(
        (torch.softmax(logits + gumbel, dim=-1) * weights).sum(), logits
    )
    hints = [
        (
            -expected,
            "the gradient has the wrong sign: the relaxed sample enters with a minus",
        ),
        (
            weights,
            (
                "the gradient passes straight through to the logits; it should be the "
                "gradient of the relaxed sample softmax((logits + gumbel) / tau)"
            ),
        ),
        (
            untempered,
            (
                "the gradient ignores the temperature: differentiate softmax((logits + "
                "gumbel) / tau)"
            ),
        ),
        (
            torch.zeros_like(grad),
            "no gradient reaches the logits",
        ),
    ]
    for wrong, message in hints:
        if torch.allclose(grad, wrong, atol=1e-8):
            raise ExerciseCheckError(f"not yet: {message}.")
    raise ExerciseCheckError(
        "not yet: the gradient with respect to the logits should be that of the "
        "relaxed sample softmax((logits + gumbel) / tau)."
    )


# --- Chapter 1, exercise "How many components?" ---------------------------------------


def components_for_variance(x: torch.Tensor, fraction: float) -> int:
    """Reference: the smallest d whose best rank-d affine reconstruction of the rows of
    x (N, D) keeps at least ``fraction`` of the total variance, i.e. whose mean squared
    error sum_{i > d} lambda_i is at most (1 - fraction) * sum_i lambda_i."""
    return _smallest_count(torch.linalg.svdvals(x - x.mean(dim=0)) ** 2, fraction)


def _smallest_count(values: torch.Tensor, fraction: float) -> int:
    """The smallest d with values[:d].sum() >= fraction * values.sum()."""
    kept = values.cumsum(0) / values.sum()
    return int((kept < fraction).sum().item()) + 1


def check_components_for_variance(fn: Callable[[torch.Tensor, float], object]) -> bool:
    """Check ``fn(x (N, D), fraction) -> int``: the smallest number of principal
    components whose best affine reconstruction keeps at least ``fraction`` of the
    data's variance; on data drawn afresh on every call, with fractions chosen
    between two consecutive counts so that rounding cannot decide."""
    generator = _fresh_generator()
    hints = {
        "off by one": (
            "off by one: with d components you keep eigenvalues 1..d, so count them "
            "from 1 (an index into the cumulative sum is one less than the count)"
        ),
        "uncentred": (
            "subtract the mean first: the variance is measured around the mean, and "
            "without centring the first direction is spent on the mean"
        ),
        "ascending": (
            "the eigenvalues must be added largest first (torch.linalg.eigvalsh "
            "returns them in ascending order)"
        ),
        "not squared": (
            "singular values are standard deviations, not variances: square them to "
            "get the eigenvalues"
        ),
        "error share": (
            "`fraction` is the share of the variance kept, not the share left in the "
            "error"
        ),
    }
    # For every wrong count: the mistakes that would have produced it.
    explained: list[set[str]] = []
    for num_rows, dim in ((400, 10), (300, 16)):
        scales = torch.rand(dim, generator=generator, dtype=torch.float64) * 3 + 0.2
        offset = torch.randn(dim, generator=generator, dtype=torch.float64) * 4 + 5
        x = torch.randn(num_rows, dim, generator=generator, dtype=torch.float64)
        x = x * scales.sort(descending=True).values + offset
        eigenvalues = torch.linalg.svdvals(x - x.mean(dim=0)) ** 2 / num_rows
        kept = (eigenvalues.cumsum(0) / eigenvalues.sum()).tolist()
        # three targets between 2 and D - 1, the fraction halfway between two counts
        picks = torch.randperm(dim - 2, generator=generator)[:3] + 2
        for target in sorted(picks.tolist()):
            fraction = (kept[target - 2] + kept[target - 1]) / 2
            copy = x.clone()
            got = fn(x, fraction)
            _unchanged((x,), (copy,))
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, int):
                raise ExerciseCheckError(
                    "return the number of components as a Python int, got "
                    f"{type(got).__name__}"
                )
            if got == target:
                continue
            mistakes = {
                "off by one": target - 1,
                "uncentred": _smallest_count(torch.linalg.svdvals(x) ** 2, fraction),
                "ascending": _smallest_count(eigenvalues.flip(0), fraction),
                "not squared": _smallest_count(eigenvalues.sqrt(), fraction),
                "error share": _smallest_count(eigenvalues, 1 - fraction),
            }
            explained.append({name for name, wrong in mistakes.items() if got == wrong})
    if not explained:
        return _passed(
            "your counts are right on random data sets and fractions drawn for this "
            "check."
        )
    _raise_common_mistake(explained, hints)
    raise ExerciseCheckError(
        f"not yet: {len(explained)} of 6 counts are wrong. The error of the best "
        "rank-d reconstruction is the sum of the eigenvalues left out; find the first "
        "d where what is kept reaches `fraction` of the total."
    )
