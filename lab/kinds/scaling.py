"""Kind "scaling": fit the Chinchilla law L(N, D) = E + A/N^α + B/D^β (Hoffmann et al.'s Approach 3,
4,500 L-BFGS starts, Huber δ = 1e-3 on log loss) and Kaplan's single-variable power laws to points
from a CSV file or from a finished "scaling_sweep" run, with bootstrap intervals and the
compute-optimal allocation. No torch: it runs in seconds.

the result's "metrics": A, B, E, alpha, beta, objective, each with <name>_se, <name>_ci_low,
<name>_ci_high; n_opt_exponent, d_opt_exponent, G, tokens_per_parameter (at compute_budget), ...
"outputs": points, fit (residuals, raw parameters), bootstrap refits, Kaplan fits, converged.

    python -m lab spec scaling > s.json && python -m lab run s.json --wait
"""
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.specs import KINDS, Kind, Spec, setting

EXAMPLE_CSV = "assets/data/scaling/chinchilla_like_synthetic.csv"


@dataclass
class ScalingSpec(Spec):
    kind = "scaling"
    needs_torch = False

    source: str = setting("csv", choices=["csv", "sweep"],
                          en="Where the points come from: a CSV file, or a finished scaling_sweep run.",
                          zh="数据点来源:CSV 文件,或一个已完成的 scaling_sweep 运行。")
    csv: str = setting(EXAMPLE_CSV,
                       en="CSV file with columns for model size (N/params), tokens (D/tokens) or compute (C/flops), and loss. Relative paths start at the lab's folder. The default holds synthetic Chinchilla-like points.",
                       zh="CSV 文件,列为模型大小(N/params)、训练 token 数(D/tokens)或训练算力(C/flops)以及损失。相对路径从实验室目录算起。默认文件是合成的类 Chinchilla 数据。")
    sweep_run: str = setting("", en="Run id of a finished scaling_sweep (when source is sweep).",
                             zh="已完成的 scaling_sweep 运行编号(来源为 sweep 时使用)。")
    huber_delta: float = setting(1e-3, minimum=1e-8, maximum=10.0,
                                 en="Huber δ on log loss: below it errors count squared, above it linearly, so outliers pull less (Hoffmann et al.: 1e-3).",
                                 zh="对数损失上的 Huber δ:小于它的误差按平方计,大于它按线性计,离群点影响更小(Hoffmann 等取 1e-3)。")
    bootstrap_samples: int = setting(200, minimum=0, maximum=5000,
                                     en="Refits on resampled points for the 95% intervals (0: no intervals).",
                                     zh="在重抽样数据上重新拟合的次数,用于 95% 置信区间(0 表示不计算)。")
    max_iterations: int = setting(1000, minimum=1, maximum=100000,
                                  en="L-BFGS iterations allowed per start; a fit that needs more says it did not converge.",
                                  zh="每个起点允许的 L-BFGS 迭代次数;需要更多迭代的拟合会标明未收敛。")
    compute_budget: float = setting(0.0, minimum=0.0,
                                    en="Budget C in FLOPs for the allocation figures (N_opt, D_opt, tokens per parameter); 0: the largest in the data.",
                                    zh="计算分配数值(N_opt、D_opt、每参数 token 数)所用的算力预算 C(FLOPs);0 表示取数据中的最大值。")
    predict_n: float = setting(0.0, minimum=0.0, en="Predict the loss of a model of this size N (0: no prediction).",
                               zh="预测这个模型大小 N 的损失(0 表示不预测)。")
    predict_d: float = setting(0.0, minimum=0.0, en="… trained on this many tokens D.", zh="……在这么多 token D 上训练。")
    kaplan_irreducible: bool = setting(False, en="Give Kaplan's single-variable laws an irreducible term E too.",
                                       zh="给 Kaplan 的单变量定律也加上不可约项 E。")

    def validate(self):
        if self.source == "csv" and not self.csv.strip():
            raise LabError("scaling_no_csv")
        if self.source == "sweep" and not self.sweep_run.strip():
            raise LabError("scaling_no_sweep")
        if (self.predict_n > 0) != (self.predict_d > 0):
            raise LabError("scaling_predict_pair", n=self.predict_n, d=self.predict_d)

    @property
    def deterministic(self) -> bool:
        return self.source == "sweep"  # a CSV file can change under the same path


def resolve_csv(path: str) -> Path:
    from lab import config

    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else config.REPO / candidate


def load_points(spec: ScalingSpec):
    from lab.runs import runner
    from lab.scaling.data import read_points_file

    if spec.source == "csv":
        return read_points_file(resolve_csv(spec.csv))
    row = runner.get(spec.sweep_run.strip())
    if row["kind"] != "scaling_sweep":
        raise LabError("scaling_not_a_sweep", run_id=spec.sweep_run, kind=row["kind"])
    path = runner.read(row["id"]).artifact_path("points.csv")
    if not path.exists():
        raise LabError("scaling_sweep_no_points", run_id=spec.sweep_run, status=row["status"])
    return read_points_file(path)


def run(spec: ScalingSpec, ctx) -> dict:
    from lab.runs.folder import write_atomic
    from lab.scaling.data import points_to_csv
    from lab.scaling.report import fit_report

    points = load_points(spec)
    write_atomic(ctx.artifact_dir / "points.csv", points_to_csv(points))  # the data this fit saw
    ctx.progress(0, 1, message=f"fitting {len(points)} points", force=True)
    metrics, outputs = fit_report(points, delta=spec.huber_delta, bootstrap_samples=spec.bootstrap_samples,
                                  seed=spec.seed, max_iter=spec.max_iterations, compute_budget=spec.compute_budget,
                                  predict_n=spec.predict_n, predict_d=spec.predict_d,
                                  kaplan_irreducible=spec.kaplan_irreducible)
    ctx.log(f"fit {outputs['fit_message']}: E={metrics['E']:.4g} A={metrics['A']:.4g} B={metrics['B']:.4g} "
            f"alpha={metrics['alpha']:.4g} beta={metrics['beta']:.4g} objective={metrics['objective']:.6g}")
    return {**metrics, **outputs}


KINDS.register(ScalingSpec.kind, Kind(ScalingSpec, run))
