"""OWL: Outlier Weighed Layerwise sparsity (Yin et al., 2023, "Outlier Weighed Layerwise Sparsity (OWL):
A Missing Secret Sauce for Pruning LLMs to High Sparsity", https://arxiv.org/abs/2310.05175).

A whole-model method: it first plans one sparsity per decoder layer from the layer's outlier ratio D_l
(share of Wanda scores |W|·||X|| above M × the layer's mean), min-max scaled to [0, 2λ] and centred on
the target, so the layers average exactly to s and the most outlier-heavy layer is pruned least; then
Wanda prunes inside each layer at its own share. The arithmetic is lab/prune/owl.py; this file is the
registry entry and its two settings (the paper's defaults M = 5, λ = 0.08)."""
from dataclasses import dataclass

from lab.errors import LabError
from lab.prune import owl
from lab.prune.methods import METHODS, PruneMethod
from lab.specs import setting


@dataclass
class OwlSettings:
    owl_m: float = setting(owl.DEFAULT_M, en="OWL's outlier threshold M: a weight is an outlier when its Wanda score is above M times its layer's mean (the paper uses 5).",
                           zh="OWL 的离群阈值 M:Wanda 得分高于所在层平均值 M 倍的权重算离群值(论文用 5)。",
                           minimum=0.0, maximum=1000.0)
    owl_lambda: float = setting(owl.DEFAULT_LAMBDA, en="OWL's λ: how far a layer's sparsity may move from the target (the layers spread over 2λ; the paper uses 0.08). At most the smallest target.",
                                zh="OWL 的 λ:每层稀疏度可偏离目标的幅度(各层分布在 2λ 范围内;论文用 0.08)。不能超过最小的目标稀疏度。",
                                minimum=0.0, maximum=0.5)

    @staticmethod
    def check(spec) -> None:
        """λ ≤ every target OWL prunes at (0, the dense model, is not pruned), M > 0, and every layer's
        share inside [0, 1) whatever the outlier ratios turn out to be: s_l lies in [s − 2λ, s + 2λ], so
        a target below 2λ could ask a layer for a negative share and one at 1 − 2λ or above could empty a layer."""
        if "owl" not in getattr(spec, "methods", ()):
            return
        for target in spec.sparsities:
            if target == 0:
                continue
            owl.check_settings(target, spec.owl_lambda, spec.owl_m)
            if target < 2 * spec.owl_lambda:
                raise LabError("prune_owl_low_target", sparsity=target, lam=spec.owl_lambda,
                               least=round(2 * spec.owl_lambda, 4), most=round(target / 2, 4))
            if target + 2 * spec.owl_lambda >= 1:
                raise LabError("prune_owl_too_high", sparsity=target, lam=spec.owl_lambda,
                               most=round(1 - 2 * spec.owl_lambda, 4))


def prune_model(model, sparsity: float, norms: dict, spec) -> dict:
    if sparsity == 0:
        return {}
    m = getattr(spec, "owl_m", owl.DEFAULT_M)
    lam = getattr(spec, "owl_lambda", owl.DEFAULT_LAMBDA)
    plan = owl.owl_plan(model, norms, sparsity, m=m, lam=lam)
    owl.owl_prune(model, norms, plan)
    return {"layers": owl.plan_rows(plan)}


METHODS.register("owl", PruneMethod(needs_calibration=True, prune_model=prune_model, patterns=("unstructured",),
                                    group=OwlSettings))
