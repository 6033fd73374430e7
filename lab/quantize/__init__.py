"""Quantize & compress: the schemes registry (lab/quantize/schemes/), the lab's own round-to-nearest
fake-quant (rtn.py), GPTQ (gptq.py for one layer, gptq_model.py layer by layer, gptq_reference.py the
paper's slow form for checking), SmoothQuant W8A8 (smoothquant.py), quantization-aware training
(qat.py), honest weight-memory counting (memory.py), the comparison run (compare.py), the look-inside
views (inside.py) and their figures (plots.py). The job kinds are lab/kinds/quantize.py and
lab/kinds/prune.py; pruning lives in lab/prune/.
"""
