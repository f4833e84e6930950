"""Value at Risk and Expected Shortfall from a rolling window of asset returns.

`RollingVaR` keeps the last ``window`` per-bar simple returns of N assets in a preallocated
ring buffer, with their mean vector and centred sum of cross products updated by rank-one
steps (O(N^2) per bar, nothing recomputed over the window). A portfolio is a vector of
position values in quote currency; its one-bar P&L is ``sum_i value_i * r_i``. Four estimators
read the same window: historical, parametric (Gaussian), Cornish-Fisher and Monte Carlo.
Losses are positive numbers. Every formula is in ``docs/var.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["RollingVaR", "VaRMethod", "VaRResult", "empirical_var_es"]

VaRMethod = Literal["historical", "parametric", "cornish_fisher", "monte_carlo"]
"""How `RollingVaR.var` estimates: from the window's P&L, a Gaussian, a Cornish-Fisher
adjusted Gaussian, or multivariate normal draws."""

_METHODS: tuple[str, ...] = get_args(VaRMethod)
_STANDARD = NormalDist()


@dataclass(frozen=True, slots=True)
class VaRResult:
    """One Value at Risk estimate; losses are positive, in the currency of the values.

    Attributes:
        var: Value at Risk: the loss not exceeded with probability ``alpha`` over ``horizon``.
        es: Expected Shortfall: the mean loss in the worst ``1 - alpha`` of outcomes.
        method: The estimator used.
        alpha: Confidence level, e.g. 0.99.
        horizon: Horizon in bars.
        observations: The sample the estimate rests on: the window's returns, or for
            ``historical`` the number of (overlapping) ``horizon``-bar P&L sums.
    """

    var: float
    es: float
    method: VaRMethod
    alpha: float
    horizon: int
    observations: int


def empirical_var_es(losses: FloatArray, alpha: float) -> tuple[float, float]:
    """VaR and ES of a sample of losses (positive = loss), with one quantile definition.

    VaR is the ``k``-th smallest loss with ``k = ceil(n * alpha)`` (1-based): the inverse of the
    empirical distribution function, ``np.quantile(losses, alpha, method="inverted_cdf")``.
    ES is the mean of the ``n - k + 1`` losses at or beyond it (the sorted tail from position
    ``k``), so ``ES >= VaR`` always.

    Args:
        losses: The sample (at least one value; not modified).
        alpha: Confidence level in (0, 1).

    Returns:
        ``(var, es)``.

    Examples:
        >>> empirical_var_es(np.array([1.0, 5.0, 2.0, 4.0, 3.0]), 0.8)
        (4.0, 4.5)
    """
    n = losses.size
    k = min(max(math.ceil(n * alpha) - 1, 0), n - 1)
    part = np.partition(losses, k)
    return float(part[k]), float(part[k:].mean())


class RollingVaR:
    """Rolling mean and covariance of N assets' returns, and VaR/ES of portfolios over them.

    Each `update` adds one bar's simple returns ``r_t = p_t / p_{t-1} - 1`` of every asset
    and, once the window is full, drops the oldest: the mean vector ``m`` and the centred cross
    products ``M = sum (r - m)(r - m)^T`` follow by rank-one updates (Welford's update for a
    growing window, its sliding form for a full one), so `covariance` is ``M / (n - 1)``, the
    same as ``np.cov(window, rowvar=False)``. Rounding errors accumulate slowly (relative to
    the size of the returns that passed through); `resync` recomputes both exactly.

    Args:
        assets: Number of assets N (>= 1).
        window: Returns kept per asset (>= 2).
        paths: Draws per Monte Carlo estimate (>= 100).
        seed: Seed of the Monte Carlo generator (``None``: fresh entropy).

    Raises:
        ConfigError: If a setting is out of range.

    Examples:
        >>> est = RollingVaR(2, window=3)
        >>> for r in ([0.01, 0.02], [-0.02, 0.0], [0.01, -0.01]):
        ...     est.update(r)
        >>> round(est.var([100.0, 0.0], method="historical").var, 6)
        2.0
    """

    def __init__(
        self, assets: int, *, window: int = 250, paths: int = 10_000, seed: int | None = None
    ) -> None:
        _check_int(assets, "assets", 1)
        _check_int(window, "window", 2)
        _check_int(paths, "paths", 100)
        self.assets = assets
        self.window = window
        self.paths = paths
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._buffer: FloatArray = np.zeros((window, assets))
        self._mean: FloatArray = np.zeros(assets)
        self._m2: FloatArray = np.zeros((assets, assets))
        self._next = 0  # row the next update writes
        self._count = 0
        self._quantiles: dict[float, tuple[float, float]] = {}

    @property
    def observations(self) -> int:
        """Returns in the window now (``window`` once it is full)."""
        return self._count

    def update(self, returns: npt.ArrayLike) -> None:
        """Add one bar's returns (one per asset); the oldest leaves a full window.

        Args:
            returns: N simple returns, finite.

        Raises:
            DataError: If the shape is not ``(N,)`` or a return is not finite.
        """
        x = np.asarray(returns, dtype=np.float64)
        if x.shape != (self.assets,):
            raise DataError(
                f"RollingVaR.update: expected {self.assets} returns, got shape {x.shape}"
            )
        if not np.isfinite(x).all():
            raise DataError(f"RollingVaR.update: returns must be finite, got {x.tolist()}")
        mean, m2, row = self._mean, self._m2, self._buffer[self._next]
        if self._count < self.window:
            self._count += 1
            delta = x - mean
            mean += delta / self._count
            m2 += np.outer(delta, delta) * ((self._count - 1) / self._count)
        else:
            # Replace r_old by r_new at fixed n: m' = m + d/n with d = r_new - r_old, and
            # M' = M + sym(d (r_new + r_old - m - m')^T) (see docs/var.md).
            d = x - row
            centred = (x - mean) + row
            mean += d / self.window
            centred -= mean
            step = np.outer(d, centred * 0.5)
            m2 += step
            m2 += step.T
        row[:] = x
        self._next = (self._next + 1) % self.window

    def mean(self) -> FloatArray:
        """The window's mean return of each asset (a copy).

        Returns:
            Array of shape ``(N,)``.
        """
        return self._mean.copy()

    def covariance(self) -> FloatArray:
        """The window's sample covariance of returns, ``ddof=1`` (a new array).

        Returns:
            Array of shape ``(N, N)``; NaN with fewer than two returns.
        """
        if self._count < 2:
            return np.full((self.assets, self.assets), np.nan)
        result: FloatArray = self._m2 / (self._count - 1)
        return result

    def returns(self) -> FloatArray:
        """The window's returns, oldest first (a copy).

        Returns:
            Array of shape ``(observations, N)``.
        """
        if self._count < self.window:
            return self._buffer[: self._count].copy()
        return np.concatenate((self._buffer[self._next :], self._buffer[: self._next]))

    def pnl(self, values: npt.ArrayLike) -> FloatArray:
        """The one-bar P&L a portfolio would have made on each bar of the window, oldest first.

        Args:
            values: Position value per asset in quote currency (negative for shorts).

        Returns:
            ``returns() @ values``.
        """
        result: FloatArray = self.returns() @ self._values(values)
        return result

    def resync(self) -> None:
        """Recompute the mean and cross products exactly from the window (O(window N^2))."""
        window = self.returns()
        if not len(window):
            return
        self._mean[:] = window.mean(axis=0)
        centred = window - self._mean
        self._m2[:] = centred.T @ centred

    def clear(self) -> None:
        """Forget every return (the window starts empty again)."""
        self._buffer[:] = 0.0
        self._mean[:] = 0.0
        self._m2[:] = 0.0
        self._next = self._count = 0

    def var(
        self,
        values: npt.ArrayLike,
        *,
        alpha: float = 0.99,
        horizon: int = 1,
        method: VaRMethod = "parametric",
    ) -> VaRResult:
        """VaR and ES of a portfolio over the window.

        Args:
            values: Position value per asset in quote currency (negative for shorts).
            alpha: Confidence level in (0, 1).
            horizon: Horizon in bars (>= 1): overlapping sums of ``horizon`` consecutive P&Ls
                for ``historical``; square-root-of-time scaling (i.i.d. bars) for the others.
            method: ``"historical"``, ``"parametric"``, ``"cornish_fisher"`` or
                ``"monte_carlo"``.

        Returns:
            The estimate.

        Raises:
            ConfigError: If ``alpha``, ``horizon`` or ``method`` is invalid.
            DataError: If ``values`` has the wrong shape or is not finite, or the window
                holds too few returns (two; ``horizon`` for historical).
        """
        z, density = self._normal(alpha)
        _check_int(horizon, "horizon", 1)
        w = self._values(values)
        n = self._count
        if method == "historical":
            return self._historical(w, alpha, horizon)
        if method not in _METHODS:
            raise ConfigError(f"RollingVaR.var: method must be one of {_METHODS}, got {method!r}")
        if n < 2:
            raise DataError(f"RollingVaR.var: {method} needs at least 2 returns, has {n}")
        mu = horizon * float(self._mean @ w)
        sigma = math.sqrt(horizon * max(float(w @ self._m2 @ w) / (n - 1), 0.0))
        if method == "parametric":
            var = -(mu + z * sigma)
            es = -mu + sigma * density / (1.0 - alpha)
        elif method == "cornish_fisher":
            var, es = self._cornish_fisher(w, mu, sigma, z, density, alpha, horizon)
        else:
            var, es = self._monte_carlo(w, mu, sigma, alpha, horizon)
        return VaRResult(var, es, method, alpha, horizon, n)

    def _historical(self, w: FloatArray, alpha: float, horizon: int) -> VaRResult:
        n = self._count
        if n < horizon:
            raise DataError(
                f"RollingVaR.var: historical at horizon {horizon} needs {horizon} returns, has {n}"
            )
        if horizon == 1:  # order does not matter for a quantile
            pnl: FloatArray = self._buffer[:n] @ w
        else:
            pnl = np.lib.stride_tricks.sliding_window_view(self.pnl(w), horizon).sum(axis=1)
        var, es = empirical_var_es(-pnl, alpha)
        return VaRResult(var, es, "historical", alpha, horizon, int(pnl.size))

    def _cornish_fisher(
        self,
        w: FloatArray,
        mu: float,
        sigma: float,
        z: float,
        density: float,
        alpha: float,
        horizon: int,
    ) -> tuple[float, float]:
        skew, kurt = _moments(self._buffer[: self._count] @ w)
        skew /= math.sqrt(horizon)  # of a sum of `horizon` i.i.d. bars
        kurt /= horizon
        z_cf = (
            z
            + (z * z - 1.0) * skew / 6.0
            + (z**3 - 3.0 * z) * kurt / 24.0
            - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
        )
        tail = (
            1.0
            + z * skew / 6.0
            + (z * z - 1.0) * kurt / 24.0
            - (2.0 * z * z - 1.0) * skew * skew / 36.0
        )
        return -(mu + z_cf * sigma), -mu + sigma * density * tail / (1.0 - alpha)

    def _monte_carlo(
        self, w: FloatArray, mu: float, sigma: float, alpha: float, horizon: int
    ) -> tuple[float, float]:
        # r ~ N(m, C) per bar, C = V diag(l) V^T; r = m + V sqrt(l) Z, so w.r = w.m + (Z @ b)
        # with b = sqrt(l) V^T w. The eigen-factor also works for a singular C.
        eigenvalues, vectors = np.linalg.eigh(self._m2 / (self._count - 1))
        b = np.sqrt(np.clip(eigenvalues, 0.0, None)) * (vectors.T @ w)
        draws = self._rng.standard_normal((self.paths, self.assets))
        pnl = mu + math.sqrt(horizon) * (draws @ b)
        return empirical_var_es(-pnl, alpha)

    def _values(self, values: npt.ArrayLike) -> FloatArray:
        w = np.asarray(values, dtype=np.float64)
        if w.shape != (self.assets,) or not np.isfinite(w).all():
            raise DataError(
                f"RollingVaR: expected {self.assets} finite position values, got {values!r}"
            )
        return w

    def _normal(self, alpha: float) -> tuple[float, float]:
        """``z = Phi^-1(1 - alpha)`` and ``phi(z)``, cached per alpha."""
        cached = self._quantiles.get(alpha)
        if cached is None:
            if isinstance(alpha, bool) or not 0.0 < alpha < 1.0:
                raise ConfigError(f"RollingVaR.var: alpha must be in (0, 1), got {alpha!r}")
            z = _STANDARD.inv_cdf(1.0 - alpha)
            cached = self._quantiles[alpha] = (z, _STANDARD.pdf(z))
        return cached

    def __repr__(self) -> str:
        return (
            f"RollingVaR(assets={self.assets}, window={self.window}, paths={self.paths}, "
            f"seed={self.seed!r}, observations={self._count})"
        )


def _moments(pnl: FloatArray) -> tuple[float, float]:
    """Skewness and excess kurtosis (population moments; ``(0, 0)`` for a constant sample)."""
    centred = pnl - pnl.mean()
    squared = centred * centred
    m2 = float(squared.mean())
    if m2 <= 0.0:
        return 0.0, 0.0
    return float((squared * centred).mean()) / m2**1.5, float(
        (squared * squared).mean()
    ) / m2**2 - 3.0


def _check_int(value: int, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"RollingVaR: {name} must be an integer >= {low}, got {value!r}")
