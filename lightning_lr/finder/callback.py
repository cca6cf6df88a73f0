"""``LRFinder``: the LR range test as a callback that hands its suggestion to the schedule."""

from __future__ import annotations

import warnings
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from typing_extensions import override

from lightning_lr.checks import (
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_real,
    check_state_version,
)
from lightning_lr.finder.carry_over import AppliedLR
from lightning_lr.finder.probes import choose_lr
from lightning_lr.finder.result import FinderResult
from lightning_lr.finder.search import FinderConfig, Mode, check_strategy
from lightning_lr.finder.suggest import METHODS, Method
from lightning_lr.lifecycle import fit_kind
from lightning_lr.logging.tensorboard import FINDER_FIGURE_TAG, add_figure, tensorboard_writers
from lightning_lr.optimizers import refuse_lr_free, train_mode
from lightning_lr.owners import absolute_lr_owners, check_every_schedule, hosted_schedulers, with_absolute_lrs
from lightning_lr.planner import FitKind

STATE_VERSION = 2  # 2: FinderResult holds the probes (a version-1 state loads with none)


class LRFinder(Callback):
    r"""LR range test at the start of fit, confirmed by short probes; the pick becomes the optimizer's LR.

    In ``on_fit_start`` the callback raises the LR from ``min_lr`` to ``max_lr`` over
    ``num_training_steps`` optimizer steps on the training data, records the loss of each step,
    then puts the model, the optimizers, the LR schedulers and the RNG states back exactly as they
    were (bit for bit, also when the loss diverges or a step raises) and picks an LR from the curve.
    With ``confirm=True`` (the default) a short search then probes LRs around that pick: each probe
    trains ``probe_steps`` optimizer steps at one constant LR from the same restored weights on the
    same batches and is scored by its loss at the end (the mean loss of its last quarter of steps, or
    the ``monitor`` metric after it); the lowest LR whose probe is within batch noise of the best one
    (:func:`~lightning_lr.finder.probes.within_noise`) is the suggestion, and everything is restored
    again. The test and the probes run their own small loop (``training_step``, backward,
    ``optimizer.step``): no hook of another callback runs and no loop counter moves, so training then
    starts from the original state.

    The steps spent choosing are sized from the run's length :math:`T` (its optimizer steps): at
    most :math:`T/2` in all, a range test of :math:`\min(100, \lfloor T/2 \rfloor)` points when the
    run is too short for probes (:math:`T < 200`), else up to 4 probes of :math:`\lfloor 0.075\,T
    \rfloor` steps and the rest (at most 100 points) for the range test (see
    :func:`~lightning_lr.finder.budget.plan_budget`; ``num_training_steps`` and ``probe_steps`` fix them).

    .. math::

        \eta_i = \eta_{min} \left(\frac{\eta_{max}}{\eta_{min}}\right)^{i/(n-1)}, \qquad
        \hat{\ell}_i = \frac{a_i}{1 - \beta^{i+1}},\ a_i = \beta a_{i-1} + (1-\beta)\,\ell_i

    The test stops at point :math:`i` when :math:`\ell_i` is NaN/inf or, for :math:`i \ge 5`, when
    :math:`\hat{\ell}_i - m > (\text{early\_stop\_threshold} - 1)\,|m|`, :math:`m = \min_{j<i} \hat{\ell}_j`
    (for a positive loss: :math:`\hat{\ell}_i > \text{early\_stop\_threshold} \cdot m`).

    The rules read :math:`t`, a centered Gaussian smoothing of the raw losses over
    :math:`\log_{10}\eta` (the EMA :math:`\hat{\ell}` lags by about :math:`\beta/(1-\beta)` points):
    ``"valley"`` (default) the LR where :math:`t` has come half of the way down its main descent,
    ``"steepest"`` the most negative :math:`dt/d\ln\eta`, ``"minimum"`` the LR of the lowest
    :math:`t` divided by 10 (see :func:`~lightning_lr.finder.suggest.suggest`).

    With ``apply=True`` every param group of every optimizer is scaled by
    ``suggestion / (first group's LR)``, so group ratios are kept, and schedule callbacks
    (``OneCycle``, ``CosineAnnealing``, ...) take it as their peak/base whatever the order of the
    callbacks: they read base LRs in ``on_train_start``, after every ``on_fit_start``. When the curve
    gives no answer the configured LR is kept and a warning says why (``result.reason``).

    Gradient clipping: as in training, the module's ``configure_gradient_clipping`` with the trainer's
    ``gradient_clip_val``/``gradient_clip_algorithm`` (by default the precision plugin's ``clip_gradients``).
    Gradient accumulation: one point per optimizer step, its loss the mean over the window. Manual
    optimization: one point per ``training_step``, which steps the optimizers itself (every optimizer
    gets the test LR); its loss is the returned loss, else the mean of the losses given to
    ``manual_backward``. DDP: losses are averaged across ranks, rank 0 decides, every rank applies
    the same LR. The curve is logged to ``trainer.loggers`` on rank 0 as ``lr_finder/lr``,
    ``lr_finder/loss`` and ``lr_finder/smoothed_loss`` at step = point index.

    Args:
        min_lr: LR of the first point (> 0).
        max_lr: LR of the last point (> ``min_lr``).
        num_training_steps: Number of points (optimizer steps) of the range test, >= 2; ``None`` (default): sized
            from the run's length, as above.
        mode: ``"exponential"`` (even in log-LR; the usual choice) or ``"linear"``.
        early_stop_threshold: Stop when the smoothed loss exceeds this multiple (> 1) of its best;
            ``None``: only a NaN/inf loss stops the test.
        smoothing: :math:`\beta` of the moving average, in ``[0, 1)``; 0 = raw losses.
        suggestion: ``"valley"`` (default), ``"steepest"`` or ``"minimum"``.
        apply: Write the suggestion into the optimizers.
        monitor: ``None``: the training loss returned by ``training_step``. A metric name such as
            ``"val_loss"``: after each step, the mean of that metric as logged by ``validation_step``
            over the first ``val_batches`` validation batches (from the module's or datamodule's
            ``val_dataloader``).
        val_batches: Validation batches per point when ``monitor`` is set.
        rerun_on_continue: A further ``trainer.fit`` on the same Trainer continues training (like a resume
            from a checkpoint): the test is not run again on the trained weights unless this is ``True``.
            Until it runs again, its decision holds: the suggestion it applied is written into the new
            optimizers that ``configure_optimizers`` returns (nothing when it applied none), and
            :attr:`result` stays the result of the fit where it decided.
        confirm: Confirm the curve's pick with probes (default). ``False``: the ``suggestion`` rule alone decides
            from the curve (the single-curve finder).
        probe_steps: Optimizer steps of each probe, >= 1; ``None`` (default): sized from the run's length. An
            explicit value that makes the probes longer than the run raises ``ValueError`` at fit start.

    Attributes:
        result: The :class:`FinderResult` of the last decision (``None`` before): the last test's, or a
            result without points that says why the test did not run (``result.reason``). A further fit
            or a resume that does not run the test keeps it; a checkpoint carries it. Under
            ``strategy="ddp_spawn"`` it lives in the worker processes; use
            :func:`~lightning_lr.finder.find_lr` to get it in the main process.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from lightning_lr import OneCycle
        >>> LRFinder().config.confirm, LRFinder(confirm=False, suggestion="steepest").config.suggestion
        (True, 'steepest')
        >>> finder = LRFinder(num_training_steps=50)
        >>> trainer = Trainer(max_epochs=3, callbacks=[finder, OneCycle()], logger=False)
        >>> # trainer.fit(model); finder.result.suggestion is then OneCycle's peak LR
    """

    def __init__(
        self,
        min_lr: float = 1e-8,
        max_lr: float = 1.0,
        num_training_steps: int | None = None,
        mode: Mode = "exponential",
        early_stop_threshold: float | None = 4.0,
        smoothing: float = 0.98,
        suggestion: Method = "valley",
        apply: bool = True,
        monitor: str | None = None,
        val_batches: int = 2,
        rerun_on_continue: bool = False,
        confirm: bool = True,
        probe_steps: int | None = None,
    ) -> None:
        min_lr = check_positive("min_lr", min_lr)
        max_lr = check_positive("max_lr", max_lr)
        if max_lr <= min_lr:
            raise ValueError(f"`max_lr` ({max_lr!r}) must be greater than `min_lr` ({min_lr!r}).")
        steps = None if num_training_steps is None else check_positive_int("num_training_steps", num_training_steps)
        if steps is not None and steps < 2:
            raise ValueError(f"`num_training_steps` must be None or an int >= 2, got {num_training_steps!r}.")
        threshold = None
        if early_stop_threshold is not None:
            threshold = check_real("early_stop_threshold", early_stop_threshold)
            if threshold <= 1.0:
                raise ValueError(
                    "`early_stop_threshold` must be > 1 (a multiple of the best loss) or None, "
                    f"got {early_stop_threshold!r}."
                )
        beta = check_real("smoothing", smoothing)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"`smoothing` must be in [0, 1), got {smoothing!r}.")
        if monitor is not None and (not isinstance(monitor, str) or not monitor):
            raise TypeError(f"`monitor` must be None or a metric name (a non-empty str), got {monitor!r}.")
        self.config = FinderConfig(
            min_lr=min_lr,
            max_lr=max_lr,
            num_training_steps=steps,
            mode=check_choice("mode", mode, ("exponential", "linear")),  # type: ignore[arg-type]
            early_stop_threshold=threshold,
            smoothing=beta,
            suggestion=check_choice("suggestion", suggestion, METHODS),  # type: ignore[arg-type]
            monitor=monitor,
            val_batches=check_positive_int("val_batches", val_batches),
            confirm=check_bool("confirm", confirm),
            probe_steps=None if probe_steps is None else check_positive_int("probe_steps", probe_steps),
        )
        self.apply = check_bool("apply", apply)
        self.rerun_on_continue = check_bool("rerun_on_continue", rerun_on_continue)
        self.result: FinderResult | None = None
        self._applied = AppliedLR()  # the optimizers that hold the decision (a further fit writes it into new ones)
        # set by `standalone` only
        self._stop_after_test = False
        self._result_file: str | None = None
        self._val_source: Any = None

    @classmethod
    def standalone(cls, *, val_dataloaders: Any = None, result_file: str | None = None, **kwargs: Any) -> LRFinder:
        """A finder that runs the range test and then stops the fit: the test only, what :func:`find_lr` runs.

        Unlike ``LRFinder(...)`` it applies nothing (the model and the optimizers are left exactly as they
        were), it runs the test even when the Trainer has trained before (``global_step > 0``), and it sets
        ``trainer.should_stop`` right after the test, so no training step runs.

        Args:
            val_dataloaders: Validation data for ``monitor=...`` (a ``DataLoader`` or a collection of them),
                used before Lightning has loaded the fit's own; ``None``: the trainer's, the datamodule's or the
                module's ``val_dataloader()``.
            result_file: A path where rank 0 writes :attr:`result` as JSON (:meth:`FinderResult.save`) right
                after the test: the way back to the main process from ``strategy="ddp_spawn"``. ``None``: no file.
            **kwargs: The other :class:`LRFinder` arguments (not ``apply``).

        Returns:
            The configured finder; put it in ``Trainer(callbacks=[...])`` (alone, or with callbacks that do not
            need training to run) and call ``trainer.fit``.

        Raises:
            TypeError: ``apply`` was passed, or ``result_file`` is not a ``str``/``None``.

        Example:
            >>> finder = LRFinder.standalone(num_training_steps=50, result_file="finder.json")
            >>> finder.apply, finder.config.num_training_steps
            (False, 50)
        """
        if "apply" in kwargs:
            raise TypeError(
                "The range test alone (`LRFinder.standalone`, `find_lr`) takes no `apply`: it leaves the model and "
                "optimizer untouched. Use the returned `result.suggestion`, or the LRFinder callback with apply=True."
            )
        if result_file is not None and not isinstance(result_file, str):
            raise TypeError(f"`result_file` must be a path (str) or None, got {result_file!r}.")
        finder = cls(apply=False, **kwargs)
        finder._stop_after_test = True
        finder._val_source = val_dataloaders
        finder._result_file = result_file
        return finder

    # ------------------------------------------------------------------ state
    @override
    def state_dict(self) -> dict[str, Any]:
        if self.result is None:
            return {}
        return {"version": STATE_VERSION, "result": self.result.to_dict()}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :attr:`result` from a checkpoint.

        Raises:
            ValueError: The state was written by a newer lightning_lr (its ``version`` is above this one's);
                a state without ``version`` (written before the field) is version 1.
        """
        check_state_version(type(self).__name__, state_dict, STATE_VERSION)
        if state_dict.get("result") is not None:
            self.result = FinderResult.from_dict(dict(state_dict["result"]))

    # ------------------------------------------------------------------ hook
    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        kind = fit_kind(trainer)
        if kind is FitKind.RESUMED:
            if self.result is None:
                self.result = FinderResult.not_run("fit resumed from a checkpoint", self.config.suggestion)
            self._applied.hold(list(trainer.optimizers))  # their state, restored after this hook, holds the LR
            return  # the optimizers and schedules are restored from the checkpoint
        if getattr(trainer, "fast_dev_run", False):
            self.result = FinderResult.not_run("fast_dev_run is set", self.config.suggestion)
            return
        refuse_lr_free("LRFinder", trainer.optimizers)
        if kind is FitKind.CONTINUED and not (self.rerun_on_continue or self._stop_after_test):
            self._continue(trainer)
            return
        self._applied.reset()
        check_strategy(trainer.strategy)
        check_every_schedule(trainer)  # a schedule that will refuse the run does so before the test, not after it
        if self.apply and not self._stop_after_test and self._skip_for_fixed_lrs(trainer):
            return
        with train_mode(trainer.optimizers):  # a schedule-free optimizer steps in train mode only
            result = choose_lr(trainer, pl_module, self.config, self._val_source)
        self.result = result
        if trainer.is_global_zero:
            self._log(trainer, result)
            if self._result_file is not None:
                result.save(self._result_file)
        if self._stop_after_test:
            trainer.should_stop = True
            return
        if self.apply:
            self._apply(trainer, result)

    def _continue(self, trainer: pl.Trainer) -> None:
        """A further fit that does not run the test: the decision of the fit where it ran holds."""
        why = (
            f"this fit continues training from global step {trainer.global_step} (a further `fit` on the same "
            "Trainer), like a resume; LRFinder(rerun_on_continue=True) runs the test again on the trained weights"
        )
        if self.result is None:
            self.result = FinderResult.not_run(why, self.config.suggestion)
            rank_zero_info(f"LRFinder: no range test: {why}.")
            return
        suggestion = self.result.suggestion if self.apply and not self._stop_after_test else None
        written = [] if suggestion is None else self._applied.carry_over(list(trainer.optimizers), suggestion)
        if written:
            held = f"its suggestion lr={suggestion:.4g} is written into the new optimizer(s) {written}"
        else:
            held = "the earlier decision holds"
        rank_zero_info(f"LRFinder: no range test: {why}; {held} (result: {self.result.explain()})")

    def _skip_for_fixed_lrs(self, trainer: pl.Trainer) -> bool:
        """Skip the test, with a warning, when schedules with absolute LRs own every optimizer.

        Their LRs do not depend on the optimizer's, so a suggestion written there would be dropped.
        """
        owners = absolute_lr_owners(trainer)
        if not owners or len(owners) < len(trainer.optimizers):
            return False
        names = ", ".join(sorted({with_absolute_lrs(owner) for owner in owners.values()}))
        why = (
            f"{names} set absolute LRs, so the suggestion could not take effect; the test was skipped. Leave "
            "`max_lr` (and `base_lr`) unset to use the finder, or pass `LRFinder(apply=False)` to run the test "
            "for its curve only"
        )
        rank_zero_warn(f"LRFinder: {why}.")
        self.result = FinderResult.not_run(why, self.config.suggestion)
        return True

    def _apply(self, trainer: pl.Trainer, result: FinderResult) -> None:
        if result.suggestion is None:
            if trainer.is_global_zero:
                warnings.warn(
                    f"LRFinder could not suggest a learning rate: {result.reason} The configured LR is kept.",
                    stacklevel=2,
                )
            return
        optimizers = list(trainer.optimizers)
        self._applied.apply(optimizers, result.suggestion)
        for scheduler in hosted_schedulers(trainer, optimizers):
            if trainer.is_global_zero:
                warnings.warn(
                    f"LRFinder(apply=True) wrote lr={result.suggestion:.4g} into the optimizer, but the "
                    f"{type(scheduler).__name__} returned by `configure_optimizers` sets the LR from its own "
                    "base LRs at its next step. Use a lightning_lr schedule callback instead, or build the "
                    "scheduler from `finder.result.suggestion`.",
                    stacklevel=2,
                )

    def _log(self, trainer: pl.Trainer, result: FinderResult) -> None:
        rank_zero_info(f"LRFinder: {result.explain()}")
        for logger in trainer.loggers:
            for i, (lr, loss, smoothed) in enumerate(zip(result.lrs, result.losses, result.smoothed_losses)):
                metrics = {"lr_finder/lr": lr, "lr_finder/loss": loss, "lr_finder/smoothed_loss": smoothed}
                logger.log_metrics(metrics, step=i)
            for i, probe in enumerate(result.probes):
                logger.log_metrics({"lr_finder/probe_lr": probe.lr, "lr_finder/probe_score": probe.score}, step=i)
            if result.suggestion is not None:
                logger.log_metrics({"lr_finder/suggestion": result.suggestion}, step=0)
        if tensorboard_writers(trainer) and result.lrs:
            try:
                figure = result.plot()
            except ImportError:
                rank_zero_info("LRFinder: matplotlib could not be imported: no finder figure in TensorBoard.")
                return
            add_figure(trainer, FINDER_FIGURE_TAG, figure, 0)
