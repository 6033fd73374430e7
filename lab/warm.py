"""The ML stack the dispatcher imports once before forking workers (fork launch mode).

bitsandbytes is left out: it drags in torch._dynamo (~13 s) and only quantization jobs need it.
"""
import torch  # noqa: F401
import transformers  # noqa: F401
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
import peft  # noqa: F401
