"""Pruning: set weights of the linear layers to zero, chosen by a score, and measure what it costs.

The methods (lab/prune/methods/) are registered entries: unstructured magnitude pruning (the smallest
|W| of each layer, through torch.nn.utils.prune) and Wanda (Sun et al., 2023: |W| times the norm of
the input feature it multiplies, compared within each output row). Either can also prune 2:4 (in
every 4 consecutive input weights, the 2 lowest scores), the pattern sparse tensor cores run fast.
masks.py holds the mask arithmetic, calibrate.py the activation norms, sweep.py the sparsity sweep.
"""
